"""Builders for ward GeoJSON and ONSPD CSV import files (the model factories are in
tests/factories.py)."""

import csv
import io
import json
from pathlib import Path
from typing import Any

from tests.factories import square


def feature(
    code: Any = "E05000001",
    name: Any = "Abbey",
    geometry: Any = None,
    *,
    code_key: str = "WD24CD",
    name_key: str = "WD24NM",
) -> dict[str, Any]:
    """An ONS ward feature; a 0.01-degree square near Cardiff unless ``geometry`` is given."""
    return {
        "type": "Feature",
        "properties": {code_key: code, name_key: name, "WD24NMW": "", "BNG_E": 318000},
        "geometry": geometry if geometry is not None else square(-3.2, 51.48),
    }


def collection(*features: dict[str, Any]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "name": "WD_MAY_2024_UK_BGC", "features": list(features)}


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


ONSPD_HEADER = ["pcd", "pcd2", "pcds", "dointr", "doterm", "osward", "lat", "long"]


def onspd_csv(rows: list[dict[str, str]], header: list[str] = ONSPD_HEADER) -> str:
    """ONSPD-style CSV text: ``rows`` give values by column; other columns are left empty."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(column, "") for column in header])
    return out.getvalue()


def onspd_row(pcds: str, lat: str, long: str, osward: str, doterm: str = "") -> dict[str, str]:
    return {"pcds": pcds, "lat": lat, "long": long, "osward": osward, "doterm": doterm}

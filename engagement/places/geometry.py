"""Geometry helpers: validating GeoJSON boundaries and drawing them without JavaScript."""

import math
from typing import Any

from shapely.geometry import shape
from shapely.validation import explain_validity


class GeometryError(ValueError):
    pass


def clean_boundary(geometry: Any) -> tuple[dict[str, Any], tuple[float, float, float, float]]:
    """Check a GeoJSON geometry is a valid (Multi)Polygon in lon/lat; return it and its bbox."""
    if not isinstance(geometry, dict) or geometry.get("type") not in {"Polygon", "MultiPolygon"}:
        raise GeometryError("the boundary must be a GeoJSON Polygon or MultiPolygon")
    try:
        geom = shape(geometry)
    except Exception as exc:  # shapely raises several types for malformed coordinates
        raise GeometryError(f"the boundary's coordinates are malformed ({exc})") from None
    if geom.is_empty:
        raise GeometryError("the boundary is empty")
    if not geom.is_valid:
        raise GeometryError(f"the boundary is not a valid polygon ({explain_validity(geom)})")
    min_lon, min_lat, max_lon, max_lat = geom.bounds
    if not (-180 <= min_lon <= max_lon <= 180 and -90 <= min_lat <= max_lat <= 90):
        raise GeometryError(
            "the boundary is not in longitude/latitude (WGS84); re-export it as EPSG:4326"
        )
    return geometry, (min_lon, min_lat, max_lon, max_lat)


class SvgProjection:
    """Longitude/latitude to SVG pixels: equirectangular at the middle latitude of ``bounds``,
    fitted into a ``size``-pixel square (good enough at the scale of a council)."""

    def __init__(self, bounds: tuple[float, float, float, float], size: int = 300) -> None:
        min_lon, min_lat, max_lon, max_lat = bounds
        self.min_lon, self.max_lat = min_lon, max_lat
        self.k = math.cos(math.radians((min_lat + max_lat) / 2))
        width = max((max_lon - min_lon) * self.k, 1e-9)
        height = max(max_lat - min_lat, 1e-9)
        self.scale = size / max(width, height)
        self.width = round(width * self.scale, 1)
        self.height = round(height * self.scale, 1)

    def point(self, lon: float, lat: float) -> tuple[float, float]:
        return (
            round((lon - self.min_lon) * self.k * self.scale, 1),
            round((self.max_lat - lat) * self.scale, 1),
        )

    def path(self, geometry: dict[str, Any]) -> str:
        geom = shape(geometry)
        polygons = geom.geoms if geom.geom_type == "MultiPolygon" else [geom]
        parts = []
        for polygon in polygons:
            for ring in [polygon.exterior, *polygon.interiors]:
                points = ["{:.1f},{:.1f}".format(*self.point(lon, lat)) for lon, lat in ring.coords]
                parts.append("M" + " L".join(points) + " Z")
        return " ".join(parts)


def boundary_svg_path(geometry: dict[str, Any], size: int = 300) -> dict[str, Any]:
    """An SVG path (and viewBox) of the boundary, projected equirectangularly at its latitude."""
    projection = SvgProjection(shape(geometry).bounds, size)
    return {"d": projection.path(geometry), "width": projection.width, "height": projection.height}

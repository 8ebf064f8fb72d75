"""Fixtures for the counting engine: the published pabulib files and their official outcomes."""

from pathlib import Path

import pytest

from budgets.tally.pabulib import PabulibFile, read_pabulib

DATA = Path(__file__).parent / "data"
"""Copies of the small files of /work/shared/pabulib (public data from pabulib.org)."""
SHARED = Path("/work/shared/pabulib")
"""The large files (Mokotów, Łódź) are read from the shared folder, not copied into the repo."""


def official(pb: PabulibFile) -> set[str]:
    """The official outcome: the projects whose ``selected`` column is 1."""
    return {pid for pid, project in pb.projects.items() if project.fields["selected"] == "1"}


@pytest.fixture(scope="session")
def data_file():
    def read(name: str) -> PabulibFile:
        return read_pabulib(DATA / name)

    return read


@pytest.fixture(scope="session")
def shared_file():
    def read(name: str) -> PabulibFile:
        path = SHARED / name
        if not path.exists():
            pytest.skip(f"{path} is missing: the large pabulib files live only in /work/shared")
        return read_pabulib(path)

    return read

import pytest


@pytest.fixture(autouse=True)
def _own_media_root(settings, tmp_path):
    """Each test its own MEDIA_ROOT and private root: live directories are named by meeting id,
    and ids repeat between transactional tests."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.WEBCAST_PRIVATE_ROOT = tmp_path / "private"

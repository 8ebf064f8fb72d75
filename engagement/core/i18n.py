"""Content in the page's language: council-entered text has an English and an optional Welsh
version, and every model that has both shows the Welsh one on Welsh pages."""

from django.utils.translation import get_language


def welsh_page() -> bool:
    return (get_language() or "").startswith("cy")


def localised(english: str, welsh: str) -> str:
    """``welsh`` if given and the page is in Welsh, else ``english``."""
    return welsh if welsh and welsh_page() else english

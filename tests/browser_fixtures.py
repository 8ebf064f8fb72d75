"""Playwright on the system Chromium, and axe-core as a reusable check.

Under CI=true a missing browser fails the run; elsewhere browser tests are skipped with a
message saying how to install it (`apt-get install -y chromium`).
"""

import os
import shutil
from collections.abc import Iterator

import pytest

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def _chromium_path() -> str | None:
    for candidate in (os.environ.get("CHROMIUM_PATH"), "/usr/bin/chromium", "chromium"):
        if candidate and (found := shutil.which(candidate)):
            return found
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    path = _chromium_path()
    if path is None:
        message = "Chromium not found: install it with `apt-get install -y chromium`."
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    # Playwright's sync API runs an event loop in this thread; the ORM calls made by tests
    # between page actions are still synchronous and safe.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-GB")
    page = context.new_page()
    yield page
    context.close()


def _axe_check(page, *, context: str = "") -> None:
    """Run axe-core (WCAG 2.0-2.2 A/AA rules) on the page and fail with the violations."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(
        page,
        options={
            "runOnly": {
                "type": "tag",
                "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"],
            }
        },
    )
    violations = results.response["violations"]
    if violations:
        report = "\n".join(
            f"- {v['id']} ({v['impact']}): {v['help']}\n    "
            + "\n    ".join(node["html"][:200] for node in v["nodes"][:5])
            for v in violations
        )
        pytest.fail(
            f"axe-core found {len(violations)} violation(s) on {context or page.url}:\n{report}"
        )


@pytest.fixture
def axe_check():
    return _axe_check

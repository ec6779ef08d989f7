"""The screens in a real browser: Debian's Chromium, driven by Playwright, against one local stack.

One stack (tests/e2e/conftest.py's ``stack``) and one browser for the module; pages are reused.
Playwright's own browser download is never used: ``make browser`` installs Chromium with apt when
the machine has none, and axe-core from npm (package-lock.json beside this file), which the
``screens`` helper injects to check every screen it photographs.

Screenshots of each screen at 1280 and 375 pixels wide go to ``artifacts/screens/`` (git
ignores it): the test artifacts. Times show in Europe/London, in British English, whatever the
machine's own zone and language.
"""

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, Playwright, sync_playwright

from tests.e2e.conftest import ROOT, RunningStack

CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = ROOT / "artifacts" / "screens"
WIDE, NARROW = {"width": 1280, "height": 860}, {"width": 375, "height": 812}
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make browser` installs it (`make e2e` does)")
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: `make browser` installs it with npm ci")
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[BrowserContext]:
    """One Chromium with a fresh profile for the module. CSP is bypassed only so that axe can
    be injected into the demo page, whose policy allows its own scripts alone."""
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            viewport=WIDE,
            locale="en-GB",
            timezone_id="Europe/London",
            bypass_csp=True,
        )
        context.set_default_timeout(15_000)
        yield context
        context.close()


class Screens:
    """Photographs a screen at both widths, checking at each that nothing runs off the side
    and that axe-core finds no serious or critical violation."""

    def __init__(self) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.taken: list[Path] = []

    def __call__(self, page: Page, name: str) -> None:
        for size in (WIDE, NARROW):
            page.set_viewport_size(size)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= size["width"], f"{name} is {width}px wide at {size['width']}px"
            assert axe_violations(page) == [], name
            path = SHOTS / f"{name}-{size['width']}.png"
            # A modal's backdrop covers the window, not the whole page: photograph the window.
            modal = page.locator("dialog[open]").count() > 0
            page.screenshot(path=str(path), full_page=not modal)
            self.taken.append(path)
        page.set_viewport_size(WIDE)


@pytest.fixture(scope="module")
def screens() -> Screens:
    return Screens()


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    found: list[dict[str, Any]] = page.evaluate(
        """async () => {
            const result = await axe.run(document, { resultTypes: ["violations"] });
            return result.violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map((n) => n.target.join(" ")),
            }));
        }"""
    )
    return [v for v in found if v["impact"] in ("serious", "critical")]


def open_app(context: BrowserContext, stack: RunningStack, who: str) -> Page:
    """The demo page, signed in as a demo user through its local-only picker."""
    page = context.new_page()
    page.goto(f"{stack.base}/app/?as={who}")
    page.get_by_role("tab", name="Upcoming").wait_for()
    return page


def open_embedded(
    context: BrowserContext, stack: RunningStack, token: str, viewer: str = "member"
) -> Page:
    """The element as a host page embeds it: the page's own token through ``getToken``."""
    page = context.new_page()
    page.goto(f"{stack.base}/app/")
    page.evaluate(
        """([token, viewer]) => {
            const element = document.querySelector("coaching-sessions");
            element.setAttribute("viewer", viewer);
            element.getToken = async () => token;
        }""",
        [token, viewer],
    )
    page.get_by_role("tab", name="Upcoming").wait_for()
    return page

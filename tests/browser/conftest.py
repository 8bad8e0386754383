"""Real headless Chromium (Debian's, driven by Playwright) against live servers; axe-core on every page.

Screenshots of every page go to test-artifacts/screenshots/ (printed at the end of the run).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import sync_playwright

CHROMIUM = os.environ.get("IDP_TEST_CHROMIUM", "/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
WIDTHS = {"phone": 390, "desktop": 1280}
# The probe of this machine's Chromium: without these flags it tries to reach Google's servers.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def chromium():
    assert Path(CHROMIUM).exists(), f"Chromium not found at {CHROMIUM}: apt-get install -y chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Pages:
    """Screenshots and accessibility checks for every page a test visits."""

    def __init__(self, test_name: str):
        self.test_name = re.sub(r"[^\w-]+", "_", test_name)
        self.count = 0
        self.axe = Axe()
        self.problems: list[str] = []

    def check(self, page, label: str) -> None:
        page.wait_for_load_state("load")
        self.count += 1
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{self.test_name}-{self.count:02d}-{label}.png"), full_page=True)
        results = self.axe.run(page)
        for violation in results.response["violations"]:
            if violation["impact"] in ("serious", "critical"):
                targets = [node["target"] for node in violation["nodes"]][:3]
                self.problems.append(f"{label} ({page.url}): {violation['id']} [{violation['impact']}] {targets}")


@pytest.fixture
def pages(request):
    checker = Pages(request.node.name)
    yield checker
    assert not checker.problems, "accessibility problems:\n" + "\n".join(checker.problems)


def pytest_terminal_summary(terminalreporter):
    if SHOTS.exists():
        terminalreporter.write_line(f"browser screenshots: {SHOTS}")

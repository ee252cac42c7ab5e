"""What the browser tests share: Debian's Chromium for Playwright, `streamlit run ui/app.py` on loopback,
and the few page helpers every journey needs (wait for a rerun to settle, pick a drop-down option).

Locally without Chromium (or Playwright) a browser test module is skipped with the reason; in CI
(CI set) it must run, so a missing browser fails the run instead of passing it quietly.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from local_server import free_port, wait_until

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-sync",
    "--disable-background-networking",
    "--disable-component-update",
]


def require_browser() -> Any:
    """playwright.sync_api, called at a test module's top: skips the module locally without
    Playwright or Chromium, but raises in CI, where the browser tests must run."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            raise RuntimeError("CI must run the browser tests: Chromium is missing (the Makefile installs it with apt)")
        pytest.skip(
            "Chromium is not installed (apt-get install chromium; `make test` does it)", allow_module_level=True
        )
    return playwright_api


def local_url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def seeded_store(folder: Path) -> str:
    """A SQLite store in `folder` with the demo cases in it (as `make run` seeds; the app never does)."""
    from decision import evaluate
    from decision.demo_cases import demo_cases
    from decision.store import CaseStore

    database_url = f"sqlite:///{folder}/store.sqlite"
    CaseStore(database_url).seed_demo_cases(demo_cases(), evaluate)
    return database_url


def _healthy(url: str) -> bool:
    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
        return bool(answer.read() == b"ok")


@contextmanager
def streamlit_app(env: Mapping[str, str], port: int | None = None, extra_args: Sequence[str] = ()) -> Iterator[str]:
    """`streamlit run ui/app.py` on 127.0.0.1 with `env` added to this process's environment; yields
    its URL once /_stcore/health answers, and stops it afterwards."""
    port = port if port is not None else free_port()
    url = local_url(port)
    command = [sys.executable, "-m", "streamlit", "run", str(ROOT / "ui" / "app.py"), "--server.port", str(port)]
    command += ["--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"]
    command += ["--server.fileWatcherType", "none"]  # an edit elsewhere must not put "rerun?" in the status
    command += list(extra_args)
    server = subprocess.Popen(
        command, cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        if not wait_until(lambda: _healthy(url), seconds=60, pause=0.5):
            pytest.fail("streamlit did not start within 60 s")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=20)


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium launched by Playwright (its own browser download is not reachable)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as runner:
        launched = runner.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def settled(page: Any, pause: float = 0.3, stale: bool = False) -> None:
    """Wait until the app has finished its rerun: a widget clicked mid-rerun can be replaced under the
    pointer (seen on a cold first start), and what is typed into it is lost. With `stale`, also until
    nothing is still drawn from the run before (Streamlit marks those), so what is read is current."""
    time.sleep(pause)  # a rerun that a click started shows its status after a moment
    if stale:
        page.wait_for_function(
            "() => { const s = document.querySelector('[data-testid=\"stStatusWidget\"]');"
            " return (!s || s.innerText.trim() === '') && !document.querySelector('[data-stale=\"true\"]'); }"
        )
        return
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
        " || document.querySelector('[data-testid=\"stStatusWidget\"]').innerText.trim() === ''"
    )


def choose(page: Any, label: str, option: str, attempts: int = 4) -> None:
    """Pick an option of the drop-down whose label has `label` by typing it; a rerun that lands while
    the list is open closes it (seen on a busy machine), so the pick is tried again from a settled page."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in range(attempts):
        settled(page)
        page.locator('[data-testid="stSelectbox"]').filter(has_text=label).first.click()
        page.keyboard.type(option)
        try:
            page.get_by_role("option").filter(has_text=option).first.click(timeout=15_000)
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
            if attempt == attempts - 1:
                raise
            continue
        settled(page)  # the selection triggers a rerun
        return


def click_until(page: Any, button: str, shown: str, attempts: int = 3) -> None:
    """Click a button on a settled page until the text it brings is shown: a click that lands while a
    rerun replaces the button is lost (a save never happened once in CI, on a busy machine). The
    text is looked for before each new click, so a slow answer is not clicked twice."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in range(attempts):
        settled(page, stale=True)
        if attempt and page.get_by_text(shown).count():
            return
        page.get_by_role("button", name=button).click()
        try:
            page.get_by_text(shown).first.wait_for(timeout=30_000)
            return
        except PlaywrightTimeout:
            if attempt == attempts - 1:
                raise


def open_page(page: Any, url: str, heading: str = "Clinician: assess a case") -> None:
    """Go to `url` and wait for the page's heading (the app has drawn it)."""
    page.goto(url)
    page.get_by_text(heading).wait_for()


def open_tab(page: Any, name: str) -> None:
    """Open one of the page's tabs (the case input's "Case form", "Demo case") and let the rerun settle."""
    page.get_by_role("tab", name=name).click()
    settled(page)


def shot(page: Any, name: str) -> None:
    """A screenshot to test-artifacts/screenshots/ (the README shows copies of them)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    time.sleep(1.0)  # let the last rerun paint
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)

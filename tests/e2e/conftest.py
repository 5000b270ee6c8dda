"""End-to-end tests: a real uvicorn server on a free port over a fresh database (SQLite or PostgreSQL,
see tests/dbutil.py), driven by Debian's Chromium through Playwright.

Without /usr/bin/chromium the tests skip, unless PARLEY_REQUIRE_BROWSER=1 (set by .ci/run): then they fail.
Screenshots go to test-artifacts/screenshots/ (gitignored).
"""

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from tests.factories import PASSWORD
from tests.helpers import free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
LAPTOP = {"viewport": {"width": 1366, "height": 900}}
# the machine running CI may be busy: assertions wait up to 10 s (the 2 s live-queue bound is timed separately)
expect.set_options(timeout=10_000)


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/e2e/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("PARLEY_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} is missing and PARLEY_REQUIRE_BROWSER=1: install it (apt-get install -y chromium)")
        pytest.skip(f"{CHROMIUM} not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()



@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen
    log: Path

    def api(self, method: str, path: str, headers: dict | None = None, **kwargs) -> httpx.Response:
        return httpx.request(method, f"{self.url}/api/v1{path}", headers=headers, timeout=30, **kwargs)


@pytest.fixture
def live_server(settings_env, world, tmp_path) -> Iterator[LiveServer]:
    """The app in its own process, on the test's fresh database (the `world` is already in it)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    env = {**os.environ, **settings_env, "PARLEY_PUBLIC_URL": url, "PARLEY_LOG_JSON": "false"}
    with log.open("w") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--host", "127.0.0.1",
             "--port", str(port), "--log-level", "warning"],
            cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"server did not start:\n{log.read_text()}")
        time.sleep(0.2)
    yield LiveServer(url=url, process=process, log=log)
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


def new_context(browser, server: LiveServer, kind: str = "phone", **extra):
    options = dict(PHONE if kind == "phone" else LAPTOP)
    options.update(extra)
    context = browser.new_context(base_url=server.url, **options)
    context.set_default_timeout(10_000)
    # every Content-Security-Policy violation the app causes is collected: tests assert there are none
    context.csp_violations = []
    context.on("console", lambda message: context.csp_violations.append(message.text)
               if "Content Security Policy" in message.text else None)
    return context


def sign_in(page, user, password: str = PASSWORD) -> None:
    page.goto("/")
    page.get_by_label("Service number").fill(user.service_number)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("#topbar:not([hidden])")


def wait_for_worker(page) -> None:
    """Until the service worker is active and controls the page (the shell is precached by then)."""
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.wait_for_function("navigator.serviceWorker.controller !== null")


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def assert_accessible(page, name: str) -> None:
    """axe-core (bundled by axe-playwright-python) finds no serious or critical violation."""
    from axe_playwright_python.sync_playwright import Axe

    violations = Axe().run(page).response["violations"]
    bad = [v for v in violations if v["impact"] in ("serious", "critical")]
    summary = "\n".join(f"{v['id']} ({v['impact']}): {v['help']} -> "
                        f"{[n['target'] for n in v['nodes']][:5]}" for v in bad)
    assert not bad, f"accessibility violations on {name}:\n{summary}"

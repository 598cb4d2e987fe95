"""Browser test harness: a real `cardsim serve` subprocess on 127.0.0.1 and Debian's Chromium
driven by Playwright, with a fake camera fed from Y4M clips of the liveness corpus.

Fixtures for other e2e tests (e.g. the staff console): `live_server` (base URL, demo staff
credentials), `launch_browser(clip=None)`, `screenshots` (per-test artifact directory).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.e2e import clips
from tests.probe.servers import instance_env, start_server

CHROMIUM = "/usr/bin/chromium"
CHALLENGES = ("blink", "turn_left", "open_mouth")
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "e2e"


@dataclass
class LiveServer:
    """The running server: its base URL and the demo staff accounts it printed."""

    url: str
    staff_passwords: dict[str, str] = field(default_factory=dict)
    instance: Path = Path()



@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """`cardsim serve --demo-staff` on a free port with its own database, keys and phones."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/install-system-deps (make test does)")
    instance = tmp_path_factory.mktemp("e2e-instance")
    env = {**instance_env(instance), "CARDSIM_LIVENESS_CHALLENGES": ",".join(CHALLENGES)}
    log = instance / "server.log"
    server = start_server(env, log, extra_args=("--demo-staff",))
    try:
        passwords = dict(re.findall(r"demo staff account (\S+) \(\w+\) password (\S+)",
                                    log.read_text()))
        yield LiveServer(url=server.url, staff_passwords=passwords, instance=instance)
    finally:
        server.stop()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "server.log").write_text(log.read_text())


@pytest.fixture(scope="session")
def clip_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where generated Y4M clips are cached between runs (.pytest_cache, when enabled)."""
    cache = getattr(request.config, "cache", None)
    if cache is None:
        return tmp_path_factory.mktemp("e2e-clips")
    return Path(cache.mkdir("e2e-clips"))


@pytest.fixture(scope="session")
def live_clip(clip_dir: Path) -> Path:
    """Bona fide clip performing the server's configured challenges."""
    return clips.live_clip(clip_dir, CHALLENGES)


@pytest.fixture(scope="session")
def photo_clip(clip_dir: Path) -> Path:
    """Printed-photo attack clip."""
    return clips.photo_clip(clip_dir)


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[object]:
    """One Playwright driver for the session."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver


BrowserLauncher = Callable[..., object]


@pytest.fixture
def launch_browser(playwright_driver: object) -> Iterator[BrowserLauncher]:
    """Launch Debian's Chromium, with a fake camera playing `clip` when given."""
    launched: list[object] = []

    def launch(clip: Path | None = None) -> object:
        args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--use-fake-ui-for-media-stream"]
        if clip is not None:
            args += ["--use-fake-device-for-media-stream",
                     f"--use-file-for-fake-video-capture={clip}"]
        browser = playwright_driver.chromium.launch(  # type: ignore[attr-defined]
            executable_path=CHROMIUM, headless=True, args=args)
        launched.append(browser)
        return browser

    yield launch
    for browser in launched:
        browser.close()  # type: ignore[attr-defined]


class Screenshots:
    """Numbered full-page screenshots of one test, kept as CI artifacts."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.count = 0
        self.last_page: object | None = None
        directory.mkdir(parents=True, exist_ok=True)
        for old in directory.glob("*.png"):
            old.unlink()

    def take(self, page: object, name: str) -> Path:
        self.last_page = page
        self.count += 1
        path = self.directory / f"{self.count:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
        return path


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.when == "call":
        item.stash[_FAILED] = report.failed


_FAILED = pytest.StashKey[bool]()


@pytest.fixture
def screenshots(request: pytest.FixtureRequest) -> Iterator[Screenshots]:
    """Screenshots into test-artifacts/e2e/<test name>/ (plus one at the point of failure)."""
    shots = Screenshots(ARTIFACTS / request.node.name)
    yield shots
    if request.node.stash.get(_FAILED, False) and shots.last_page is not None:
        try:
            shots.take(shots.last_page, "failure")
        except Exception as exc:  # the browser may already be gone
            print(f"no failure screenshot: {exc}")

"""The applicant flow in a real browser: Chromium, a fake camera, a real server."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import BrowserLauncher, LiveServer, Screenshots

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

IDENTITY = {
    "full_name": "张伟",
    "id_number": "110105199003071239",
    "mobile": "13812345678",
    "annual_income": "150000",
    "employer": "Acme Trading Co., Ltd.",
}
ANSWERS = {
    "confirm_name": "yes", "confirm_birth_date": "yes", "voluntary": "yes",
    "paid_or_asked": "no", "interest_rate": "18.25%", "annual_fee": "CNY 200",
}
LIVENESS_TIMEOUT_MS = 90_000
# The interview flags answers given faster than a person can read the question.
THINK_S = 1.4


def new_page(launch_browser: BrowserLauncher, clip: Path | None) -> Any:
    browser: Any = launch_browser(clip)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    return page


def start_application(page: Any, server: LiveServer, shots: Screenshots) -> None:
    page.goto(server.url + "/")
    shots.take(page, "start")
    page.check("#consent")
    page.click("#start-button")
    page.wait_for_url(re.compile(r"/application/identity$"))
    for name, value in IDENTITY.items():
        page.fill(f"#{name}", value)
    shots.take(page, "identity")
    page.click("#identity-submit")
    page.wait_for_url(re.compile(r"/application/liveness$"))


def run_liveness(page: Any, shots: Screenshots) -> str:
    shots.take(page, "liveness-intro")
    page.click("#liveness-start")
    page.wait_for_selector("#liveness[data-status='in_progress']")
    page.wait_for_selector("#liveness-prompt[data-prompt]:not([data-prompt=''])",
                           timeout=LIVENESS_TIMEOUT_MS)
    shots.take(page, "liveness-prompt")
    # Read the verdict in the page itself: on a pass the page moves on by itself.
    verdict = page.wait_for_function(
        """() => {
            const el = document.getElementById('liveness');
            const s = el && el.dataset.status;
            return s === 'passed' || s === 'failed' ? [s, el.innerText] : null;
        }""", timeout=LIVENESS_TIMEOUT_MS).json_value()
    shots.take(page, "liveness-result")
    status: str = verdict[0]
    if status != "passed":
        print(verdict[1])
    return status


def answer_interview(page: Any, shots: Screenshots) -> None:
    page.wait_for_url(re.compile(r"/application/interview$"))
    shots.take(page, "interview")
    for question, value in ANSWERS.items():
        time.sleep(THINK_S)
        page.check(f"fieldset[data-question='{question}'] input[value='{value}']")
    time.sleep(THINK_S)
    page.fill("#answer_employer", "Acme Trading")
    page.press("#answer_employer", "Tab")
    shots.take(page, "interview-answered")
    page.click("#interview-submit")
    page.wait_for_url(re.compile(r"/application/device$"))


def choose_phone(page: Any, profile: str) -> None:
    page.wait_for_selector("#phone-setup:not([hidden])")
    page.select_option("#phone-profile", profile)
    page.click("#phone-create")
    page.wait_for_selector("#phone[data-device-id]:not([data-device-id=''])")


def enter_pin(page: Any, pin: str) -> None:
    page.wait_for_selector("#phone-pinpad:not([hidden])")
    for digit in pin:
        page.click(f"#phone-pinpad button[data-key='{digit}']")
    page.click("#phone-pinpad button[data-key='ok']")


IN_VIEWPORT = """(selector) => {
    const r = document.querySelector(selector).getBoundingClientRect();
    return r.top >= 0 && r.bottom <= window.innerHeight;
}"""


def bind_before_the_phone_is_set_up(page: Any, shots: Screenshots) -> None:
    """On a phone-sized screen the emulated phone sits below the page: pressing Bind before
    setting it up says so next to the button and brings the phone's setup into view."""
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_selector("#phone-setup:not([hidden])")
    assert not page.evaluate(IN_VIEWPORT, "#phone-profile")
    page.click("#binding-start")
    page.wait_for_selector("#binding-result:not([hidden])")
    assert "Set up your phone first" in page.inner_text("#binding-result")
    assert page.inner_text("#phone-screen-title") == "Set up your phone first"
    assert page.is_enabled("#binding-start")
    page.wait_for_function(IN_VIEWPORT, arg="#phone-profile")
    shots.take(page, "bind-before-phone")
    page.set_viewport_size({"width": 1280, "height": 900})


def test_happy_path_to_an_issued_card(live_server: LiveServer, live_clip: Path,
                                      launch_browser: BrowserLauncher,
                                      screenshots: Screenshots) -> None:
    page = new_page(launch_browser, live_clip)
    start_application(page, live_server, screenshots)
    assert run_liveness(page, screenshots) == "passed"
    answer_interview(page, screenshots)

    shots = screenshots
    shots.take(page, "device")
    bind_before_the_phone_is_set_up(page, shots)
    choose_phone(page, "genuine")
    assert page.inner_text("#phone-screen-title") == "Phone ready"
    assert "\u201cBind this phone\u201d" in page.inner_text("#phone-screen-text")
    page.click("#binding-start")
    page.wait_for_url(re.compile(r"/application/agreement$"))

    shots.take(page, "agreement")
    page.click("#agreement-start")
    page.wait_for_selector("#phone-confirm-button.armed")
    screen = page.inner_text("#phone-screen-text")
    assert "Credit limit: CNY" in screen and "张伟" in screen
    shots.take(page, "agreement-on-phone")
    page.click("#phone-confirm-button")
    page.wait_for_url(re.compile(r"/application/decision$"))

    assert page.get_attribute("[data-testid=decision]", "data-outcome") == "approved"
    shots.take(page, "decision")
    page.click("#issue-card")
    page.wait_for_url(re.compile(r"/application/card$"))
    masked = page.inner_text("#card-pan")
    assert re.fullmatch(r"6\d{3} \d{2}\*\* \*{4} \d{4}", masked), masked
    shots.take(page, "card-issued")

    page.click("#card-provision")
    page.wait_for_selector("#card-page[data-provisioned='yes']")
    page.click("#card-activate")
    enter_pin(page, "2468")
    page.wait_for_selector("#card-page[data-status='active']")
    shots.take(page, "card-active")

    page.click("#card-reveal")
    enter_pin(page, "1357")  # wrong: the phone says so and asks again
    page.wait_for_selector("#phone-screen-title:text-is('Wrong PIN')")
    page.wait_for_selector("#phone-pinpad:not([hidden])")
    assert "9 tries left" in page.inner_text("#phone-screen-text")
    shots.take(page, "wrong-pin")
    enter_pin(page, "2468")
    page.wait_for_selector("#card-page[data-revealed='yes']")
    assert page.is_hidden("#card-result")
    full = page.inner_text("#card-pan").replace(" ", "")
    assert re.fullmatch(r"\d{16}", full) and full[:4] == masked[:4] and full[-4:] == masked[-4:]
    assert re.fullmatch(r"CVV2 \d{3}", page.inner_text("#card-cvv"))
    shots.take(page, "card-revealed")

    page.goto(live_server.url + "/application")  # come back later: the card page again
    page.wait_for_url(re.compile(r"/application/card$"))
    assert page.inner_text("#card-pan") == masked
    assert page.inner_text("#card-status") == "active"


def test_photo_attack_fails_liveness_with_a_reason(live_server: LiveServer, photo_clip: Path,
                                                   launch_browser: BrowserLauncher,
                                                   screenshots: Screenshots) -> None:
    page = new_page(launch_browser, photo_clip)
    start_application(page, live_server, screenshots)
    assert run_liveness(page, screenshots) == "failed"
    result = page.inner_text("#liveness-result")
    assert "did not pass" in result and "2 more times" in result, result
    assert page.is_visible("#liveness-retry")


def test_liveness_page_waits_out_429_and_503_and_goes_on(
        live_server: LiveServer, live_clip: Path, launch_browser: BrowserLauncher,
        screenshots: Screenshots) -> None:
    """A refused frame (rate limit, session store away) changes nothing on the server: the page
    must wait the Retry-After it is given, then carry on to a verdict."""
    page = new_page(launch_browser, live_clip)
    start_application(page, live_server, screenshots)
    refusals = {6: (429, "rate_limited", "Too many frames; wait 1 s."),
                7: (503, "session_store_unavailable", "The session store is unavailable.")}
    posted: list[float] = []  # when each frame request left the page
    refused_at: dict[int, float] = {}

    def frames(route: Any) -> None:
        posted.append(time.monotonic())
        number = len(posted)
        if number not in refusals:
            route.continue_()
            return
        status, code, message = refusals[number]
        refused_at[number] = time.monotonic()
        route.fulfill(status=status, headers={"Retry-After": "1"},
                      json={"error": {"code": code, "message": message}})

    page.route("**/application/liveness/frame", frames)
    assert run_liveness(page, screenshots) == "passed"
    assert sorted(refused_at) == [6, 7]
    # Each refusal was followed by a wait of about Retry-After before the next frame.
    for number in (6, 7):
        assert posted[number] - refused_at[number] >= 0.95, posted[number] - refused_at[number]
    assert len(posted) > 12  # and frames kept coming afterwards


def test_rooted_phone_is_refused_with_its_reason(live_server: LiveServer, live_clip: Path,
                                                 launch_browser: BrowserLauncher,
                                                 screenshots: Screenshots) -> None:
    page = new_page(launch_browser, live_clip)
    start_application(page, live_server, screenshots)
    assert run_liveness(page, screenshots) == "passed"
    answer_interview(page, screenshots)
    choose_phone(page, "rooted")
    page.click("#binding-start")
    page.wait_for_selector("#binding-result:not([hidden])")
    screenshots.take(page, "rooted-refused")
    assert page.get_attribute("#binding", "data-refusal") == "custom_os"
    result = page.inner_text("#binding-result")
    assert result == ("Your bank refused this phone: Your phone runs an operating system not "
                      "signed by its manufacturer."), result
    assert page.inner_text("#binding-attempts") == "2"
    assert page.is_visible("#binding-other")


def test_missing_camera_gets_a_helpful_message(live_server: LiveServer,
                                               launch_browser: BrowserLauncher,
                                               screenshots: Screenshots) -> None:
    page = new_page(launch_browser, None)  # no fake device: this browser has no camera
    start_application(page, live_server, screenshots)
    page.click("#liveness-start")
    page.wait_for_selector("#camera-message:not([hidden])")
    screenshots.take(page, "no-camera")
    message = page.inner_text("#camera-message")
    assert "camera" in message.lower() and "Try again" in message, message
    assert page.get_attribute("#camera-message", "data-error") in (
        "NotFoundError", "NotReadableError", "NotAllowedError", "OverconstrainedError")
    assert page.is_visible("#liveness-retry")
    assert page.get_attribute("#liveness", "data-status") == "idle"  # no attempt was used

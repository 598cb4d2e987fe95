"""`cardsim demo`: the whole applicant flow, headless, through the JSON API of a real server.

The server runs in this process (Werkzeug on a free local port, a temporary instance unless
`--instance DIR`); the demo is an ordinary HTTP client of `/api/v1` and of the emulated phone
panel (`/device`). Liveness is fed a pre-recorded clip from the liveness corpus generator that
performs the configured challenges, at 10 frames per second like the browser page.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import secrets
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from werkzeug.serving import make_server

from issuer.db import error_line
from web.device.profiles import PROFILES

DEMO_CHALLENGES = ("blink", "turn_left", "open_mouth")
FRAME_INTERVAL_S = 0.1
MAX_LIVENESS_SECONDS = 90.0

DEMO_IDENTITY = {
    "full_name": "李华",
    "id_number": "110105199003071239",
    "mobile": "13812345678",
    "annual_income": "180000",
    "employer": "Example Software Co., Ltd.",
}
DEMO_ANSWERS = {
    "confirm_name": "yes", "confirm_birth_date": "yes", "voluntary": "yes",
    "paid_or_asked": "no", "employer": "Example Software",
}


class DemoFailed(Exception):
    """A step of the demo did not succeed; the message says which and why."""


def register(subparsers: Any) -> None:
    """Add `cardsim demo`."""
    parser = subparsers.add_parser("demo", help="run the whole applicant flow headless")
    parser.add_argument("--instance", type=Path, default=None,
                        help="instance directory (default: a temporary one)")
    # The phone kinds the demo's own server accepts (what its /device/profiles answers),
    # checked here so a typo fails at once rather than after the liveness step.
    parser.add_argument("--profile", default="genuine", choices=[p.name for p in PROFILES],
                        help="phone profile to bind (default genuine)")
    parser.set_defaults(func=run_demo)


class ApiClient:
    """A tiny JSON-over-HTTP client (stdlib only)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.token: str | None = None

    def call(self, method: str, path: str, body: Any = None, *, raw: bytes | None = None,
             headers: dict[str, str] | None = None, expect: Sequence[int] = (200, 201)
             ) -> dict[str, Any]:
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        # The base URL is the demo's own http://127.0.0.1 server, never user input.
        request = urllib.request.Request(self.base + path, data=data, method=method)  # noqa: S310
        if body is not None:
            request.add_header("Content-Type", "application/json")
        if self.token and path.startswith("/api/"):
            request.add_header("Authorization", f"Bearer {self.token}")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 (local)
                status, payload = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, payload = error.code, error.read()
        parsed: dict[str, Any] = json.loads(payload or b"{}")
        if status not in expect:
            problem = parsed.get("error", {})
            raise DemoFailed(f"{method} {path} answered {status}: "
                             f"{problem.get('code')}: {problem.get('message')}")
        return parsed


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def clip_jpegs(challenges: Sequence[str]) -> list[bytes]:
    """The browser clip (liveness corpus) at 10 fps, JPEG-encoded like the page's canvas."""
    from liveness.corpus import encode_jpeg
    from web.commands.demo_clip import demo_clip_frames

    frames = demo_clip_frames(challenges, fps=round(1 / FRAME_INTERVAL_S))
    return [encode_jpeg(frame, quality=70) for frame in frames]


def _looped(frames: Sequence[bytes]) -> Iterator[bytes]:
    while True:
        yield from frames


def _say(step: str, detail: str = "") -> None:
    print(f"[demo] {step}{': ' + detail if detail else ''}", flush=True)


def drive(base: str, *, challenges: Sequence[str], profile: str) -> dict[str, Any]:
    """Walk one applicant from consent to an activated card; returns the masked card."""
    api = ApiClient(base)
    created = api.call("POST", "/api/v1/applications", {"consent": True})
    api.token = created["access_token"]
    app_path = f"/api/v1/applications/{created['id']}"
    _say("application started", created["id"])
    api.call("POST", app_path + "/identity", DEMO_IDENTITY)
    _say("identity accepted", f"{DEMO_IDENTITY['full_name']}, ID number checksum valid")

    frames = clip_jpegs(challenges)
    _say("liveness", f"sending a pre-recorded clip performing {', '.join(challenges)}")
    api.call("POST", app_path + "/liveness/sessions")
    deadline = time.monotonic() + MAX_LIVENESS_SECONDS
    status: dict[str, Any] = {}
    prompt = None
    for jpeg in _looped(frames):
        started = time.monotonic()
        status = api.call("POST", app_path + "/liveness/frames", raw=jpeg,
                          headers={"Content-Type": "image/jpeg",
                                   "X-Client-Timestamp": str(int(time.time() * 1000))},
                          expect=(200, 422))
        live = status.get("liveness", {})
        if live.get("prompt") and live.get("prompt") != prompt:
            prompt = live["prompt"]
            _say("liveness prompt", live.get("prompt_text", prompt))
        if status.get("finished") or time.monotonic() > deadline:
            break
        time.sleep(max(0.0, FRAME_INTERVAL_S - (time.monotonic() - started)))
    if not status.get("passed"):
        reasons = "; ".join(r.get("message", "") for r in status.get("reasons", []))
        raise DemoFailed(f"liveness did not pass: {reasons or 'timed out'}")
    _say("liveness passed")

    served = api.call("GET", app_path + "/interview")
    terms = {q["id"]: q for q in served["questions"]}
    answers = []
    for question in served["questions"]:
        value = DEMO_ANSWERS.get(question["id"])
        if value is None:  # the terms questions: the demo applicant read the agreement
            value = _term_answer(question, terms)
        answers.append({"question_id": question["id"], "value": value, "response_ms": 1300})
    time.sleep(1.3 * len(answers))  # the server compares claimed times with its own
    api.call("POST", app_path + "/interview", {"token": served["token"], "answers": answers})
    _say("interview done", f"{len(answers)} answers, script {served['script_version']}")

    phone = api.call("POST", "/device/phones", {"profile": profile})
    device = f"/device/phones/{phone['device_id']}"
    _say("phone created", f"{profile} ({phone['device_id']})")
    challenge = api.call("POST", app_path + "/device-binding/challenge")["challenge"]
    chains = api.call("POST", device + "/bind", {"challenge": challenge})["chains"]
    bound = api.call("POST", app_path + "/device-binding",
                     {"challenge": challenge, "chains": chains}, expect=(200, 422))
    if "error" in bound:
        raise DemoFailed(f"phone refused: {bound['error']['message']}")
    _say("phone bound", "attestation chains verified by the issuer")

    offer = api.call("GET", app_path + "/agreement")
    api.call("POST", device + "/confirmation", {"prompt": offer["prompt"],
                                                "nonce": offer["nonce"]})
    api.call("POST", device + "/button")
    signed = api.call("POST", device + "/confirmation/collect")
    api.call("POST", app_path + "/agreement", signed)
    _say("agreement signed on the phone's trusted UI",
         f"credit limit CNY {offer['credit_limit']:,}")

    decision = api.call("POST", app_path + "/decision")
    _say("decision", decision["outcome"])
    if decision["outcome"] != "approved":
        raise DemoFailed(f"the application was not approved ({decision['outcome']})")
    api.call("POST", app_path + "/card", headers={"Idempotency-Key": secrets.token_hex(16)})
    hello = api.call("POST", app_path + "/card/provisioning")["hello"]
    api.call("POST", device + "/channel", {"hello": hello})
    se_challenge = api.call("POST", device + "/se-challenge")["challenge"]
    record = api.call("POST", app_path + "/card/provisioning/payload",
                      {"se_challenge": se_challenge})["record"]
    answer = api.call("POST", device + "/provisioning", {"record": record})
    api.call("POST", app_path + "/card/provisioning/result", {"record": answer["record"]})
    _say("card provisioned into the phone's secure element", f"SE status {answer['sw']}")
    pin = f"{secrets.randbelow(10**6):06d}"
    api.call("POST", device + "/pin", {"pin": pin})
    card = api.call("POST", app_path + "/card/activate")
    _say("card activated", "PIN set on the phone")
    return card


def _term_answer(question: dict[str, Any], _all: dict[str, Any]) -> str:
    from issuer.terms import terms_for_interview

    terms = terms_for_interview()
    values = {c["value"] for c in question["choices"]}
    for value in terms.values():
        if value in values:
            return value
    raise DemoFailed(f"cannot answer {question['id']!r}")


def _one_line(exc: BaseException) -> str:
    """An error in one line: an OS error as "file: reason", any other as `error_line` has it
    (a database driver's own message, without SQLAlchemy's statement and link)."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
    return error_line(exc)


def run_demo(args: argparse.Namespace) -> int:
    """Entry point of `cardsim demo`."""
    from web.app import create_app
    from web.commands.serve import prepare_instance
    from web.config import config_from_env

    if args.instance is not None and args.instance.exists() and not args.instance.is_dir():
        what = "a file" if args.instance.is_file() else "not a directory"
        print(f"cardsim demo: --instance {args.instance} is {what}; it must be a directory "
              "(made if absent)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="cardsim-demo-") as scratch:
        instance = args.instance or Path(scratch)
        config = config_from_env({
            "DATABASE_URL": f"sqlite:///{instance / 'cardsim.db'}",
            "CARDSIM_KEY_FILE": str(instance / "issuer-keys.json"),
            "CARDSIM_DEVICE_DIR": str(instance / "devices"),
            "CARDSIM_LIVENESS_CHALLENGES": ",".join(DEMO_CHALLENGES),
        })
        try:
            prepare_instance(config)
            app = create_app(config)
        except Exception as exc:  # one line on stderr, never a traceback
            print(f"cardsim demo: cannot prepare the instance {instance}: {_one_line(exc)}",
                  file=sys.stderr)
            return 1
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the demo prints its own steps
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        base = f"http://127.0.0.1:{server.server_port}"
        _say("server", base)
        try:
            card = drive(base, challenges=DEMO_CHALLENGES, profile=args.profile)
        except DemoFailed as exc:
            print(f"cardsim demo: {exc}", file=sys.stderr)
            return 1
        finally:
            server.shutdown()
    print(f"Issued card: {card['masked_pan']}  expires {card['expiry'][2:]}/{card['expiry'][:2]}"
          f"  holder {card['cardholder']}  status {card['status']}  "
          f"credit limit CNY {card['credit_limit']:,}", flush=True)
    return 0

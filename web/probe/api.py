"""A small client of the server's JSON API (`/api/v1`), as an automation tool would use it."""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import requests

from issuer.identity import id_check_character
from issuer.interview import load_script
from issuer.terms import terms_for_interview
from web.probe.result import ProbeAborted

API = "/api/v1"
HONEST_ANSWERS = {
    "confirm_name": "yes", "confirm_birth_date": "yes", "voluntary": "yes",
    "paid_or_asked": "no",
}


def b64(data: bytes) -> str:
    """Standard base64 text."""
    return base64.b64encode(data).decode("ascii")


def unb64(text: object) -> bytes:
    """Bytes from standard base64 text (ProbeAborted when the server sent something else)."""
    if not isinstance(text, str):
        raise ProbeAborted(f"expected base64 text from the server, got {text!r}")
    return base64.b64decode(text)


@dataclass(frozen=True)
class Reply:
    """One HTTP answer: status, parsed JSON body (or None) and the raw text."""

    status: int
    body: Any
    text: str
    headers: Mapping[str, str]

    @property
    def ok(self) -> bool:
        """2xx."""
        return 200 <= self.status < 300

    @property
    def error_code(self) -> str:
        """The `error.code` of a JSON error body ("" when absent)."""
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            return str(self.body["error"].get("code", ""))
        return ""

    @property
    def reason(self) -> str:
        """`HTTP <status> <code>: <message>` for the report."""
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            error = self.body["error"]
            return f"HTTP {self.status} {error.get('code', '')}: {error.get('message', '')}"
        return f"HTTP {self.status}: {self.text[:200]}"

    def field(self, name: str) -> Any:
        """A top-level field of a JSON object body (ProbeAborted when missing)."""
        if not isinstance(self.body, dict) or name not in self.body:
            raise ProbeAborted(f"server answer lacks '{name}': {self.reason}")
        return self.body[name]


class Server:
    """The target server: base URL plus one `requests.Session` per caller."""

    def __init__(self, base_url: str, *, timeout: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def session(self) -> requests.Session:
        """A fresh HTTP session (own cookie jar)."""
        return requests.Session()

    def call(self, method: str, path: str, *, http: requests.Session | None = None,
             json: Any = None, data: bytes | Mapping[str, str] | None = None,
             headers: Mapping[str, str] | None = None) -> Reply:
        """One request (`data` raw bytes or form fields); network failures become
        ProbeAborted."""
        client = http or requests
        try:
            response = client.request(method, self.base_url + path, json=json, data=data,
                                      headers=dict(headers or {}), timeout=self.timeout,
                                      allow_redirects=False)
        except requests.RequestException as exc:
            raise ProbeAborted(f"cannot reach {self.base_url}: {type(exc).__name__}") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        return Reply(status=response.status_code, body=body, text=response.text,
                     headers=dict(response.headers))

    def check_reachable(self) -> None:
        """ProbeAborted unless the OpenAPI document answers."""
        reply = self.call("GET", f"{API}/openapi.json")
        if reply.status != 200:
            raise ProbeAborted(f"{self.base_url}{API}/openapi.json answered {reply.status}")

    def new_applicant(self) -> Applicant:
        """POST /applications with consent."""
        reply = self.call("POST", f"{API}/applications", json={"consent": True})
        if reply.status != 201:
            raise ProbeAborted(f"cannot start an application: {reply.reason}")
        return Applicant(self, str(reply.field("id")), str(reply.field("access_token")))


def fresh_identity() -> dict[str, str]:
    """A valid identity form for a new person (random ID sequence and mobile)."""
    sequence = f"{secrets.randbelow(1000):03d}"
    first17 = f"110105{date(1990, 3, 7):%Y%m%d}{sequence}"
    return {
        "full_name": "Probe Tester",
        "id_number": first17 + id_check_character(first17),
        "mobile": "138" + f"{secrets.randbelow(10**8):08d}",
        "annual_income": "120000",
        "employer": "Acme Trading Co., Ltd.",
    }


class Applicant:
    """One application driven with its bearer token."""

    def __init__(self, server: Server, application_id: str, token: str) -> None:
        self.server = server
        self.application_id = application_id
        self.token = token
        self.identity: dict[str, str] = {}

    @property
    def path(self) -> str:
        """The application's API path."""
        return f"{API}/applications/{self.application_id}"

    def headers(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """Bearer authorisation plus `extra`."""
        return {"Authorization": f"Bearer {self.token}", **(extra or {})}

    def get(self, sub: str = "") -> Reply:
        """GET on the application (or a sub-resource)."""
        return self.server.call("GET", self.path + sub, headers=self.headers())

    def post(self, sub: str, body: Any = None, headers: Mapping[str, str] | None = None) -> Reply:
        """POST JSON to a sub-resource."""
        return self.server.call("POST", self.path + sub, json=body, headers=self.headers(headers))

    def state(self) -> str:
        """The application's current state."""
        return str(self.get().field("state"))

    def expect(self, reply: Reply, step: str) -> Reply:
        """The reply when 2xx, else ProbeAborted (an honest step failed)."""
        if not reply.ok:
            raise ProbeAborted(f"honest step '{step}' failed: {reply.reason}")
        return reply

    def submit_identity(self) -> None:
        """Fill the identity form honestly."""
        self.identity = fresh_identity()
        self.expect(self.post("/identity", self.identity), "identity")

    def start_liveness(self) -> Reply:
        """Begin a liveness session."""
        return self.post("/liveness/sessions")

    def send_frame(self, jpeg: bytes, *, client_ms: int) -> Reply:
        """POST one JPEG frame with the capture time."""
        return self.server.call("POST", self.path + "/liveness/frames", data=jpeg,
                                headers=self.headers({"Content-Type": "image/jpeg",
                                                      "X-Client-Timestamp": str(client_ms)}))

    def answer_interview(self) -> None:
        """Answer every question truthfully, taking the time a person needs to read each one
        (the server flags an interview answered faster than that on its own clock)."""
        served = self.expect(self.get("/interview"), "interview questions")
        answers = []
        for question in served.field("questions"):
            qid = question["id"]
            answers.append({"question_id": qid, "value": self._answer(question)})
        time.sleep(load_script().min_response_ms * len(answers) / 1000 + 0.5)
        self.expect(self.post("/interview", {"token": served.field("token"), "answers": answers}),
                    "interview answers")

    def _answer(self, question: Mapping[str, Any]) -> str:
        qid = str(question["id"])
        if qid in HONEST_ANSWERS:
            return HONEST_ANSWERS[qid]
        if question.get("kind") == "choice":
            published = set(terms_for_interview().values())
            for choice in question.get("choices", []):
                if choice.get("value") in published:
                    return str(choice["value"])
        if question.get("kind") == "yes_no":
            return "yes"
        return self.identity.get("employer", "")

    def binding_challenge(self) -> bytes:
        """A fresh device-binding challenge."""
        return unb64(self.expect(self.post("/device-binding/challenge"),
                                 "binding challenge").field("challenge"))

    def submit_chains(self, challenge: bytes, chains: Mapping[str, list[bytes]]) -> Reply:
        """POST the three attestation chains."""
        return self.post("/device-binding", {
            "challenge": b64(challenge),
            "chains": {name: [b64(der) for der in certs] for name, certs in chains.items()},
        })

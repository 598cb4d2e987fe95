"""`cardsim probe` argument and reachability errors, and the verdict/report helpers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from web.cli import main
from web.probe.api import Reply
from web.probe.result import ProbeResult, report_document, table
from web.probe.verdict import refused

pytestmark = pytest.mark.unit


def _reply(status: int, body: object = None) -> Reply:
    return Reply(status=status, body=body, text=json.dumps(body), headers={})


def test_a_success_answer_is_not_detected() -> None:
    result = refused("x", _reply(200, {"state": "device_bound"}), statuses={422})
    assert not result.detected and "accepted" in result.server_reason


def test_an_unexpected_refusal_is_not_counted_as_detection() -> None:
    body = {"error": {"code": "malformed_json", "message": "bad"}}
    assert not refused("x", _reply(400, body), statuses={422}).detected


def test_the_expected_refusal_is_detected_with_the_server_reason() -> None:
    body = {"error": {"code": "revoked", "message": "Revoked."}}
    result = refused("x", _reply(422, body), statuses={422})
    assert result.detected and result.server_reason == "HTTP 422 revoked: Revoked."


def test_table_and_report_count_misses() -> None:
    results = [ProbeResult("a", True, "HTTP 409"), ProbeResult("b", False, "accepted")]
    assert "2 attacks, 1 detected, 1 not detected" in table(results)
    document = report_document(results, base_url="http://x")
    assert document["not_detected"] == ["b"] and document["detected"] == 1


@pytest.mark.parametrize("argv, message", [
    (["--base-url", "ftp://x"], "must start with http"),
    (["--base-url", "http://x", "--staff-user", "u"], "one --staff-password"),
    (["--base-url", "http://x", "--device-dir", "/nonexistent/dir"], "not a directory"),
    (["--base-url", "http://x", "--only", "no-such-scenario"], "no scenario"),
])
def test_bad_arguments_exit_2_with_one_line(argv: list[str], message: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["probe", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_unreachable_server_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["probe", "--base-url", "http://127.0.0.1:9", "--json",
                 str(tmp_path / "r.json")]) == 2
    err = capsys.readouterr().err
    assert "cannot reach" in err and err.count("\n") == 1
    assert not (tmp_path / "r.json").exists()

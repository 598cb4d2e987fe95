"""The scripted interview: script validation, rendering, answers to flags."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from issuer.interview import (
    ANSWER_TOO_FAST_FLAG,
    TIMING_INCONSISTENT_FLAG,
    Answer,
    InterviewAnswersInvalid,
    InterviewError,
    evaluate_answers,
    load_script,
    parse_script,
    render_questions,
    same_organisation,
)

pytestmark = pytest.mark.unit

FACTS = {"name": "张伟", "birth_date": "1990-03-07", "employer": "Acme Trading Co., Ltd."}
TERMS = {"annual_interest_rate": "18.25%", "annual_fee": "CNY 200"}


def honest_answers(response_ms: int = 4000) -> list[Answer]:
    values = {
        "confirm_name": "yes", "confirm_birth_date": "yes", "voluntary": "yes",
        "paid_or_asked": "no", "interest_rate": "18.25%", "annual_fee": "CNY 200",
        "employer": "ACME trading co ltd",
    }
    return [Answer(question_id=k, value=v, response_ms=response_ms) for k, v in values.items()]


def replace(answers: list[Answer], qid: str, value: str) -> list[Answer]:
    return [Answer(a.question_id, value, a.response_ms) if a.question_id == qid else a
            for a in answers]


def test_shipped_script_renders_facts_and_terms_into_questions() -> None:
    script = load_script("v1")
    questions = {q.id: q for q in render_questions(script, facts=FACTS, terms=TERMS)}
    assert script.version == "v1"
    assert "张伟" in questions["confirm_name"].text
    assert "1990-03-07" in questions["confirm_birth_date"].text
    rate_values = [c.value for c in questions["interest_rate"].choices]
    assert "18.25%" in rate_values and len(rate_values) == 4
    assert [c.value for c in questions["voluntary"].choices] == ["yes", "no"]
    assert questions["employer"].choices == ()


def test_consistent_answers_raise_no_flags_and_keep_a_transcript() -> None:
    outcome = evaluate_answers(load_script(), facts=FACTS, terms=TERMS,
                               answers=honest_answers(), elapsed_ms=60_000)
    assert outcome.flags == ()
    assert len(outcome.transcript) == 7
    assert all(e.consistent and e.response_ms == 4000 for e in outcome.transcript)
    assert outcome.transcript_dicts()[0]["question"] == "Is your full legal name 张伟?"


@pytest.mark.parametrize(
    ("qid", "value", "flag"),
    [
        ("confirm_name", "no", "interview_identity_mismatch"),
        ("voluntary", "no", "interview_not_voluntary"),
        ("paid_or_asked", "yes", "interview_paid_to_apply"),
        ("interest_rate", "0%", "interview_rate_misunderstood"),
        ("annual_fee", "CNY 2,000", "interview_fee_misunderstood"),
        ("employer", "Globex Corporation", "interview_employer_mismatch"),
    ],
)
def test_each_risky_answer_raises_its_flag(qid: str, value: str, flag: str) -> None:
    outcome = evaluate_answers(load_script(), facts=FACTS, terms=TERMS,
                               answers=replace(honest_answers(), qid, value))
    assert outcome.flags == (flag,)
    entry = next(e for e in outcome.transcript if e.question_id == qid)
    assert not entry.consistent and entry.flags == (flag,)


def test_too_fast_answers_and_inconsistent_timing_are_flagged() -> None:
    outcome = evaluate_answers(load_script(), facts=FACTS, terms=TERMS,
                               answers=honest_answers(response_ms=300), elapsed_ms=2100)
    assert outcome.flags == (ANSWER_TOO_FAST_FLAG,)
    claimed = evaluate_answers(load_script(), facts=FACTS, terms=TERMS,
                               answers=honest_answers(response_ms=9000), elapsed_ms=20_000)
    assert claimed.flags == (TIMING_INCONSISTENT_FLAG,)


def test_missing_unknown_duplicate_and_invalid_answers_name_their_field() -> None:
    answers = [a for a in honest_answers() if a.question_id != "voluntary"]
    answers += [Answer("nope", "yes"), Answer("confirm_name", "yes"),
                ]
    answers = replace(answers, "interest_rate", "99%")
    with pytest.raises(InterviewAnswersInvalid) as info:
        evaluate_answers(load_script(), facts=FACTS, terms=TERMS, answers=answers)
    assert info.value.field_errors == {
        "voluntary": "please answer this question",
        "nope": "no such question in this interview",
        "confirm_name": "answered more than once",
        "interest_rate": "choose one of the offered answers",
    }


def test_negative_response_time_and_overlong_text_are_rejected() -> None:
    answers = replace(honest_answers(), "employer", "x" * 201)
    answers = [Answer(a.question_id, a.value, -1) if a.question_id == "voluntary" else a
               for a in answers]
    with pytest.raises(InterviewAnswersInvalid) as info:
        evaluate_answers(load_script(), facts=FACTS, terms=TERMS, answers=answers)
    assert set(info.value.field_errors) == {"employer", "voluntary"}


@pytest.mark.parametrize(
    ("answer", "declared", "same"),
    [
        ("Acme Trading", "Acme Trading Co., Ltd.", True),
        ("ＡＣＭＥ　Trading", "acme trading", True),
        ("Acme Tradng", "Acme Trading Co., Ltd.", True),
        ("北京星辰科技", "北京星辰科技有限公司", True),
        ("Globex", "Acme Trading Co., Ltd.", False),
        ("", "Acme", False),
        ("Ltd", "Acme Ltd", False),
        ("Beijing Zinc", "Beijing Zeta", False),  # "inc" is a suffix only as a whole word
        ("Zinc Mining Inc", "zinc mining", True),
    ],
)
def test_employer_comparison(answer: str, declared: str, same: bool) -> None:
    assert same_organisation(answer, declared) is same


def test_missing_fact_or_term_is_a_clear_error() -> None:
    with pytest.raises(InterviewError, match="annual_fee"):
        render_questions(load_script(), facts=FACTS, terms={"annual_interest_rate": "1%"})
    with pytest.raises(InterviewError, match="name"):
        render_questions(load_script(), facts={}, terms=TERMS)


@pytest.mark.parametrize("version", ["v9", "../v1", "v1.yaml", ""])
def test_unknown_or_unsafe_script_versions_are_refused(version: str) -> None:
    with pytest.raises(InterviewError):
        load_script(version)


def test_broken_script_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "v2.yaml").write_text("version: v2\nquestions: [{id: a, kind: yes_no}]\n")
    with pytest.raises(InterviewError, match="text is required"):
        load_script("v2", directory=tmp_path)
    (tmp_path / "v3.yaml").write_text("version: [\n")
    with pytest.raises(InterviewError, match="unreadable"):
        load_script("v3", directory=tmp_path)


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c,
                                                                        max_size=4),
                    max_leaves=12))
def test_parse_script_never_fails_with_anything_but_interview_error(doc: object) -> None:
    with contextlib.suppress(InterviewError):
        parse_script(doc)


def test_server_time_too_short_to_read_the_questions_is_too_fast_even_without_client_times(
) -> None:
    script = load_script()
    silent = [Answer(a.question_id, a.value, None) for a in honest_answers()]
    quick = script.min_response_ms * len(script.questions) - 1
    outcome = evaluate_answers(script, facts=FACTS, terms=TERMS, answers=silent,
                               elapsed_ms=quick)
    assert outcome.flags == (ANSWER_TOO_FAST_FLAG,)
    enough = evaluate_answers(script, facts=FACTS, terms=TERMS, answers=silent,
                              elapsed_ms=quick + 1)
    assert enough.flags == ()

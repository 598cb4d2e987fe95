"""Hostile interview script files: loading answers a script or an InterviewError, nothing else."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from issuer.interview import (
    SCRIPTS_DIR,
    InterviewError,
    load_script,
    parse_script,
    render_questions,
)
from issuer.terms import terms_for_interview

pytestmark = pytest.mark.unit

FUZZ = settings(max_examples=200, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
REAL_SCRIPT = yaml.safe_load((SCRIPTS_DIR / "v1.yaml").read_text(encoding="utf-8"))
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
FIELDS = ["id", "kind", "text", "flag", "expect", "expect_fact", "correct_from_term",
          "distractors"]


@st.composite
def mutated_script(draw: st.DrawFn) -> object:
    """The real v1 script with one field of one question (or the top level) replaced."""
    script = json.loads(json.dumps(REAL_SCRIPT))
    if draw(st.booleans()):
        key = draw(st.sampled_from(["version", "questions", "min_response_ms",
                                    "max_response_ms"]))
        script[key] = draw(JSONISH)
    else:
        question = script["questions"][draw(st.integers(0, len(script["questions"]) - 1))]
        question[draw(st.sampled_from(FIELDS))] = draw(JSONISH)
    return script


@FUZZ
@given(raw=JSONISH | mutated_script())
def test_parse_script_accepts_or_names_the_problem(raw: object) -> None:
    try:
        script = parse_script(raw)
    except InterviewError as exc:
        assert str(exc)
    else:
        assert script.questions and len({q.id for q in script.questions}) == len(
            script.questions)


@FUZZ
@given(text=st.text(max_size=400) | st.binary(max_size=400).map(
    lambda b: b.decode("latin-1")))
def test_any_file_text_loads_or_raises_interview_error(tmp_path: Path, text: str) -> None:
    (tmp_path / "v9.yaml").write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        load_script("v9", directory=tmp_path)
    except InterviewError as exc:
        assert str(exc)


@FUZZ
@given(script=mutated_script())
def test_mutated_yaml_file_loads_or_raises_interview_error(tmp_path: Path, script: object
                                                           ) -> None:
    (tmp_path / "v2.yaml").write_text(yaml.safe_dump(script), encoding="utf-8")
    try:
        load_script("v2", directory=tmp_path)
    except InterviewError as exc:
        assert str(exc)


def test_the_shipped_script_loads() -> None:
    assert load_script("v1").version == "v1"


FACTS = {"name": "Li Wei", "birth_date": "1990-01-01", "employer": "Acme"}


@FUZZ
@given(text=st.text(alphabet=st.sampled_from("{}[]!:.0_ abnameptloyr"), max_size=30))
@example(text="{name.foo}")
@example(text="{name.__class__}")
@example(text="{name[0]}")
@example(text="{name")
def test_question_text_renders_or_raises_interview_error(text: str) -> None:
    script = json.loads(json.dumps(REAL_SCRIPT))
    script["questions"][0]["text"] = text or "x"
    try:
        parsed = parse_script(script)
        questions = render_questions(parsed, facts=FACTS, terms=terms_for_interview())
    except InterviewError as exc:
        assert str(exc)
    else:
        # Placeholders are plain names only: never a Python object's attributes or items.
        assert "<class" not in questions[0].text

"""Scripted onboarding interview: questions from a versioned script file, answers to flags.

The script (``issuer/interview_scripts/<version>.yaml``) lists questions, the answer a
consistent and voluntary applicant gives, the decision flag an inconsistent or risky answer
raises and the minimum plausible response time. This module renders the questions for one
applicant and evaluates their answers into a transcript; storing it is the caller's job.
"""

from __future__ import annotations

import difflib
import re
import string
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from issuer.errors import IssuerError, ValidationFailed
from issuer.models import InterviewRecord
from issuer.plain_text import has_hidden_characters

SCRIPTS_DIR = Path(__file__).parent / "interview_scripts"
CURRENT_SCRIPT_VERSION = "v1"
ANSWER_TOO_FAST_FLAG = "interview_answer_too_fast"
TIMING_INCONSISTENT_FLAG = "interview_timing_inconsistent"
MAX_TEXT_ANSWER_CHARS = 200
# Similarity above which a free-text employer still counts as the one on the form
# ("Acme Co., Ltd." vs "acme co ltd" vs "ACME"): typing variants, not a different company.
EMPLOYER_SIMILARITY = 0.8
# Time the server may see on top of the summed answer times (page load, network).
TIMING_SLACK_MS = 5000
_VERSION_RE = re.compile(r"^v[0-9]{1,4}$")
_COMPANY_SUFFIXES = (
    "co ltd", "company limited", "limited", "ltd", "inc", "corp", "corporation", "llc",
    "gmbh", "plc", "group", "有限责任公司", "股份有限公司", "有限公司", "公司", "集团",
)

QuestionKind = Literal["yes_no", "choice", "text"]
YES_NO_CHOICES: tuple[tuple[str, str], ...] = (("yes", "Yes"), ("no", "No"))


class InterviewError(IssuerError):
    """The interview script file is unusable, or lacks a value needed to render it."""


class InterviewAnswersInvalid(ValidationFailed):
    """Submitted answers are missing, unknown, repeated or not among the offered choices."""


@dataclass(frozen=True)
class QuestionSpec:
    """One question as written in the script file."""

    id: str
    kind: QuestionKind
    text: str
    flag: str
    expect: str | None = None
    expect_fact: str | None = None
    correct_from_term: str | None = None
    distractors: tuple[str, ...] = ()


@dataclass(frozen=True)
class InterviewScript:
    """A parsed, validated script version."""

    version: str
    min_response_ms: int
    max_response_ms: int
    questions: tuple[QuestionSpec, ...]


@dataclass(frozen=True)
class Choice:
    """One selectable answer: the stored value and the label shown."""

    value: str
    label: str


@dataclass(frozen=True)
class Question:
    """A question rendered for one applicant (placeholders filled)."""

    id: str
    kind: QuestionKind
    text: str
    choices: tuple[Choice, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form for the API."""
        return {
            "id": self.id,
            "kind": self.kind,
            "text": self.text,
            "choices": [{"value": c.value, "label": c.label} for c in self.choices],
        }


@dataclass(frozen=True)
class Answer:
    """An applicant's answer with the time they took (client-measured, milliseconds)."""

    question_id: str
    value: str
    response_ms: int | None = None


@dataclass(frozen=True)
class TranscriptEntry:
    """One question/answer pair as stored for staff review."""

    question_id: str
    question: str
    answer: str
    response_ms: int | None
    consistent: bool
    flags: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form for storage."""
        return {
            "question_id": self.question_id,
            "question": self.question,
            "answer": self.answer,
            "response_ms": self.response_ms,
            "consistent": self.consistent,
            "flags": list(self.flags),
        }


@dataclass(frozen=True)
class InterviewOutcome:
    """The evaluated interview: transcript and the decision flags it raised."""

    script_version: str
    transcript: tuple[TranscriptEntry, ...]
    flags: tuple[str, ...] = field(default=())

    def transcript_dicts(self) -> list[dict[str, Any]]:
        """The transcript as JSON-safe dicts."""
        return [entry.to_dict() for entry in self.transcript]


def load_script(
    version: str = CURRENT_SCRIPT_VERSION, *, directory: Path = SCRIPTS_DIR
) -> InterviewScript:
    """Load and validate ``<directory>/<version>.yaml``; raises InterviewError if unusable."""
    if not _VERSION_RE.match(version):
        raise InterviewError(f"interview script version {version!r} is not of the form v<N>")
    path = directory / f"{version}.yaml"
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InterviewError(f"no interview script {version!r} in {directory}") from None
    except (OSError, yaml.YAMLError) as exc:
        raise InterviewError(f"interview script {path} is unreadable: {exc}") from None
    return parse_script(raw)


def parse_script(raw: object) -> InterviewScript:
    """Validate a script document (already parsed from YAML/JSON)."""
    if not isinstance(raw, dict):
        raise InterviewError("interview script must be a mapping")
    version = raw.get("version")
    questions = raw.get("questions")
    min_ms = raw.get("min_response_ms", 1000)
    max_ms = raw.get("max_response_ms", 300_000)
    if not isinstance(version, str) or not _VERSION_RE.match(version):
        raise InterviewError("interview script needs a version like 'v1'")
    if not isinstance(min_ms, int) or not isinstance(max_ms, int) or not 0 <= min_ms < max_ms:
        raise InterviewError("min_response_ms/max_response_ms must be integers, min < max")
    if not isinstance(questions, list) or not questions:
        raise InterviewError("interview script needs a non-empty list of questions")
    specs = tuple(_parse_question(q, i) for i, q in enumerate(questions))
    ids = [s.id for s in specs]
    if len(set(ids)) != len(ids):
        raise InterviewError("question ids must be unique")
    return InterviewScript(version=version, min_response_ms=min_ms, max_response_ms=max_ms,
                           questions=specs)


def _parse_question(raw: object, index: int) -> QuestionSpec:
    where = f"question #{index + 1}"
    if not isinstance(raw, dict):
        raise InterviewError(f"{where} must be a mapping")
    qid, kind, text, flag = raw.get("id"), raw.get("kind"), raw.get("text"), raw.get("flag")
    if not isinstance(qid, str) or not re.fullmatch(r"[a-z][a-z0-9_]{0,40}", qid):
        raise InterviewError(f"{where}: id must be a short snake_case name")
    if kind not in ("yes_no", "choice", "text"):
        raise InterviewError(f"{where}: kind must be yes_no, choice or text")
    if not isinstance(text, str) or not text.strip():
        raise InterviewError(f"{where}: text is required")
    _check_placeholders(text, where)
    if not isinstance(flag, str) or not flag.startswith("interview_"):
        raise InterviewError(f"{where}: flag must be a code starting with 'interview_'")
    expect = raw.get("expect")
    expect_fact = raw.get("expect_fact")
    term = raw.get("correct_from_term")
    distractors = raw.get("distractors", [])
    if kind == "yes_no" and expect not in ("yes", "no"):
        raise InterviewError(f"{where}: a yes_no question expects 'yes' or 'no'")
    if kind == "choice" and (
        not isinstance(term, str)
        or not isinstance(distractors, list)
        or not distractors
        or not all(isinstance(d, str) for d in distractors)
    ):
        raise InterviewError(f"{where}: a choice question needs correct_from_term and distractors")
    if kind == "text" and not isinstance(expect_fact, str):
        raise InterviewError(f"{where}: a text question needs expect_fact")
    return QuestionSpec(
        id=qid, kind=kind, text=text, flag=flag,
        expect=expect if isinstance(expect, str) else None,
        expect_fact=expect_fact if isinstance(expect_fact, str) else None,
        correct_from_term=term if isinstance(term, str) else None,
        distractors=tuple(distractors) if kind == "choice" else (),
    )


def _check_placeholders(text: str, where: str) -> None:
    # Only plain names: "{name.attr}" or "{name[0]}" would reach into Python objects.
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(text) if f is not None]
    except ValueError as exc:
        raise InterviewError(f"{where}: text has a malformed placeholder ({exc})") from None
    for name in fields:
        if not name.isidentifier():
            raise InterviewError(f"{where}: placeholder {{{name}}} must be a plain name")


def render_questions(
    script: InterviewScript, *, facts: Mapping[str, str], terms: Mapping[str, str]
) -> tuple[Question, ...]:
    """Fill each question's placeholders from the identity facts and the card terms."""
    return tuple(_render(spec, facts=facts, terms=terms) for spec in script.questions)


def _render(spec: QuestionSpec, *, facts: Mapping[str, str], terms: Mapping[str, str]) -> Question:
    try:
        text = spec.text.format_map({**terms, **facts})
    except (KeyError, ValueError, IndexError, AttributeError) as exc:
        raise InterviewError(f"question {spec.id!r} needs the value {exc} to be rendered") from None
    if spec.kind == "yes_no":
        choices = tuple(Choice(value=v, label=label) for v, label in YES_NO_CHOICES)
    elif spec.kind == "choice":
        correct = _term(spec, terms)
        # Alphabetical: a stable order that does not depend on which option is right.
        options = sorted({correct, *spec.distractors}, key=str.casefold)
        choices = tuple(Choice(value=o, label=o) for o in options)
    else:
        choices = ()
    return Question(id=spec.id, kind=spec.kind, text=text, choices=choices)


def _term(spec: QuestionSpec, terms: Mapping[str, str]) -> str:
    assert spec.correct_from_term is not None
    value = terms.get(spec.correct_from_term)
    if not value:
        raise InterviewError(f"question {spec.id!r} needs the term {spec.correct_from_term!r}")
    return value


def evaluate_answers(
    script: InterviewScript,
    *,
    facts: Mapping[str, str],
    terms: Mapping[str, str],
    answers: Sequence[Answer],
    elapsed_ms: int | None = None,
) -> InterviewOutcome:
    """Check every answer; raise InterviewAnswersInvalid for missing/unknown/invalid ones.

    ``elapsed_ms`` is the server-measured time between serving the questions and receiving
    the answers: client-reported response times that add up to more than that are flagged,
    and so is an elapsed time shorter than the minimum response time for every question.
    """
    questions = {q.id: q for q in render_questions(script, facts=facts, terms=terms)}
    by_id: dict[str, Answer] = {}
    errors: dict[str, str] = {}
    for answer in answers:
        if answer.question_id not in questions:
            errors[answer.question_id[:60] or "?"] = "no such question in this interview"
        elif answer.question_id in by_id:
            errors[answer.question_id] = "answered more than once"
        else:
            by_id[answer.question_id] = answer
    for qid, question in questions.items():
        given = by_id.get(qid)
        if given is None:
            errors.setdefault(qid, "please answer this question")
            continue
        problem = _answer_problem(question, given)
        if problem:
            errors[qid] = problem
    if errors:
        raise InterviewAnswersInvalid(errors)

    entries: list[TranscriptEntry] = []
    flags: list[str] = []
    for spec in script.questions:
        chosen = by_id[spec.id]
        consistent = _is_consistent(spec, chosen.value, facts=facts, terms=terms)
        entry_flags: list[str] = [] if consistent else [spec.flag]
        if chosen.response_ms is not None and chosen.response_ms < script.min_response_ms:
            entry_flags.append(ANSWER_TOO_FAST_FLAG)
        entries.append(TranscriptEntry(
            question_id=spec.id, question=questions[spec.id].text, answer=chosen.value.strip(),
            response_ms=chosen.response_ms, consistent=consistent, flags=tuple(entry_flags),
        ))
        flags.extend(entry_flags)
    reported = [a.response_ms for a in by_id.values() if a.response_ms is not None]
    if elapsed_ms is not None and reported and sum(reported) > elapsed_ms + TIMING_SLACK_MS:
        flags.append(TIMING_INCONSISTENT_FLAG)
    if elapsed_ms is not None and elapsed_ms < script.min_response_ms * len(script.questions):
        # The server's own clock: nobody reads every question that fast, whatever the client
        # reports per answer (or leaves out).
        flags.append(ANSWER_TOO_FAST_FLAG)
    return InterviewOutcome(
        script_version=script.version, transcript=tuple(entries), flags=tuple(dict.fromkeys(flags))
    )


def _answer_problem(question: Question, answer: Answer) -> str | None:
    value = answer.value.strip()
    if answer.response_ms is not None and not 0 <= answer.response_ms <= 86_400_000:
        return "response time must be between 0 and 86400000 ms"
    if not value:
        return "please answer this question"
    if question.kind == "text":
        if len(value) > MAX_TEXT_ANSWER_CHARS:
            return f"at most {MAX_TEXT_ANSWER_CHARS} characters"
        if has_hidden_characters(value):  # as the employer on the identity form
            return "contains control characters"
        return None
    if value not in {c.value for c in question.choices}:
        return "choose one of the offered answers"
    return None


def _is_consistent(
    spec: QuestionSpec, value: str, *, facts: Mapping[str, str], terms: Mapping[str, str]
) -> bool:
    value = value.strip()
    if spec.kind == "yes_no":
        return value == spec.expect
    if spec.kind == "choice":
        return value == _term(spec, terms)
    assert spec.expect_fact is not None
    return same_organisation(value, facts.get(spec.expect_fact, ""))


def normalise_organisation(name: str) -> str:
    """Case-, width- and punctuation-insensitive company name without legal-form suffixes."""
    text = unicodedata.normalize("NFKC", name).casefold()
    text = re.sub(r"[^\w\s]", " ", text)
    text = " ".join(text.split())
    changed = True
    while changed:
        changed = False
        for suffix in _COMPANY_SUFFIXES:
            # A Latin suffix only as whole words ("Zinc" does not end in "Inc"); Chinese has
            # no spaces between words.
            whole = not suffix.isascii() or text[: -len(suffix)].endswith(" ")
            if text.endswith(suffix) and len(text) > len(suffix) and whole:
                text = text[: -len(suffix)].strip()
                changed = True
    return text


def same_organisation(answer: str, declared: str) -> bool:
    """True if the answered employer names the declared one (allowing typing variants)."""
    a, b = normalise_organisation(answer), normalise_organisation(declared)
    if not a or not b:
        return False
    return a == b or difflib.SequenceMatcher(None, a, b).ratio() >= EMPLOYER_SIMILARITY


def interview_round(session: Session, *, application_id: str) -> int:
    """Which interview this application is at: 1, then one more each time staff sent it back
    to redo the interview (each finished interview leaves one `InterviewRecord`).

    Served questions carry it, so answers to an earlier round's questions are refused.
    """
    done = session.scalar(select(func.count()).select_from(InterviewRecord)
                          .where(InterviewRecord.application_id == application_id))
    return (done or 0) + 1

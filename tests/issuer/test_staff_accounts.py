"""Staff accounts: argon2id hashes, roles, lockout; and the create-staff command."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from issuer.errors import AccessDenied, AccountLocked, Conflict, ValidationFailed
from issuer.models import StaffUser
from issuer.staff_accounts import MAX_FAILED_LOGINS, authenticate_staff, create_staff
from tests.issuer.cli import run_admin as cardsim

pytestmark = pytest.mark.integration

NOW = datetime(2025, 6, 15, 12, 0, tzinfo=UTC)
PASSWORD = "correct horse battery staple"


def test_create_and_authenticate(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as s:
        created = create_staff(s, username="alice", password=PASSWORD, role="reviewer", now=NOW)
    with session_factory.begin() as s:
        stored = s.scalar(select(StaffUser).where(StaffUser.username == "alice"))
        assert stored is not None and stored.password_hash.startswith("$argon2id$")
        assert PASSWORD not in stored.password_hash
        view = authenticate_staff(s, username="alice", password=PASSWORD, now=NOW)
    assert view == created and view.role == "reviewer"


def test_bad_input_and_duplicates(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as s, pytest.raises(ValidationFailed) as caught:
        create_staff(s, username="A", password="short", role="king", now=NOW)
    assert set(caught.value.field_errors) == {"username", "password", "role"}
    with session_factory.begin() as s:
        create_staff(s, username="bob", password=PASSWORD, role="auditor", now=NOW)
    with session_factory.begin() as s, pytest.raises(Conflict):
        create_staff(s, username="bob", password=PASSWORD, role="auditor", now=NOW)


def test_lockout_after_repeated_failures(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as s:
        create_staff(s, username="carol", password=PASSWORD, role="supervisor", now=NOW)
    for _ in range(MAX_FAILED_LOGINS):
        with session_factory() as s:
            with pytest.raises(AccessDenied):
                authenticate_staff(s, username="carol", password="wrong password!", now=NOW)
            s.commit()  # the web layer commits failed attempts too
    with session_factory() as s, pytest.raises(AccountLocked):
        authenticate_staff(s, username="carol", password=PASSWORD, now=NOW)
    later = NOW + timedelta(minutes=16)
    with session_factory.begin() as s:
        assert authenticate_staff(s, username="carol", password=PASSWORD, now=later)


def test_unknown_user_gets_the_same_answer(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as s, pytest.raises(AccessDenied) as caught:
        authenticate_staff(s, username="nobody", password=PASSWORD, now=NOW)
    assert caught.value.message == "unknown username or wrong password"


def test_cli_create_staff(migrated_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["create-staff", "dave", "--role", "admin", "--password", PASSWORD,
            "--database-url", migrated_url]
    assert cardsim(argv) == 0
    assert "created staff user dave" in capsys.readouterr().out
    assert cardsim(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "already exists" in err
    assert cardsim(["create-staff", "eve", "--role", "admin", "--password", "short",
                    "--database-url", migrated_url]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_deactivated_account_not_revealed_without_its_password(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory.begin() as s:
        create_staff(s, username="dave", password=PASSWORD, role="reviewer", now=NOW)
        user = s.scalar(select(StaffUser).where(StaffUser.username == "dave"))
        assert user is not None
        user.active = False
    with session_factory() as s, pytest.raises(AccessDenied) as wrong:
        authenticate_staff(s, username="dave", password="not the password", now=NOW)
    assert not isinstance(wrong.value, AccountLocked)
    assert str(wrong.value) == "unknown username or wrong password"
    with session_factory() as s, pytest.raises(AccountLocked):
        authenticate_staff(s, username="dave", password=PASSWORD, now=NOW)

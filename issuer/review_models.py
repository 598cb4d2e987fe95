"""Tables of the staff console: server-side sessions, login throttles, case assignment,
and pending four-eyes overrides."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from issuer.db import Base, UTCDateTime


class StaffSession(Base):
    """A logged-in staff browser. Only the SHA-256 of the cookie token is stored."""

    __tablename__ = "staff_session"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_user_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    idle_timeout_seconds: Mapped[int] = mapped_column(Integer)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    client_ip: Mapped[str] = mapped_column(String(64), default="")


class LoginThrottle(Base):
    """Failed-login counter for one key (`user:<name>` or `ip:<address>`)."""

    __tablename__ = "staff_login_throttle"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    first_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CaseAssignment(Base):
    """The reviewer who took a case; others see it read-only until it is released."""

    __tablename__ = "review_assignment"

    application_id: Mapped[str] = mapped_column(ForeignKey("application.id"), primary_key=True)
    staff_user_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"), index=True)
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PendingOverride(Base):
    """A proposal to approve an automatically declined application, awaiting a supervisor."""

    __tablename__ = "review_override"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    application_id: Mapped[str] = mapped_column(ForeignKey("application.id"), index=True)
    proposed_by_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"))
    reason: Mapped[str] = mapped_column(String(64))
    comment: Mapped[str] = mapped_column(Text)
    proposed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), index=True)  # pending/confirmed/rejected
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision_comment: Mapped[str | None] = mapped_column(Text)

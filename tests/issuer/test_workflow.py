"""The applicant's workflow end to end on SQLite and PostgreSQL, with a real attested phone."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from issuer.models import ApplicationEvent, AuditEntry
from issuer.onboarding import get_application
from issuer.states import ApplicationState
from tests.issuer.flow import NOW, Flow, PhoneLab

pytestmark = pytest.mark.integration


def test_happy_path_reaches_approved_with_timeline(
    session_factory: sessionmaker[Session], lab: PhoneLab,
) -> None:
    flow = Flow(session_factory, lab).to(ApplicationState.APPROVED)
    with session_factory() as s:
        view = get_application(s, application_id=flow.application_id, now=NOW)
        assert view.state == ApplicationState.APPROVED
        events = s.scalars(select(ApplicationEvent)
                           .where(ApplicationEvent.application_id == flow.application_id)
                           .where(ApplicationEvent.to_state.is_not(None))
                           .order_by(ApplicationEvent.id)).all()
        assert [e.to_state for e in events] == [
            "identity_submitted", "liveness_passed", "interview_done", "device_bound",
            "agreement_signed", "approved"]
        assert s.scalar(select(AuditEntry.seq).order_by(AuditEntry.seq.desc()).limit(1))

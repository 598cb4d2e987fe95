"""A case as one self-contained JSON bundle for compliance: evidence, decisions, audit trail."""

from __future__ import annotations

import base64
import json
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from issuer.audit import append_audit, verify_audit_chain
from issuer.clock import require_aware
from issuer.models import LivenessKeyframe
from issuer.permissions import Permission, require_permission
from issuer.review_audit import entries_about
from issuer.review_case import CaseView, load_case
from issuer.staff_sessions import StaffPrincipal

EXPORT_FORMAT = "cardsim-case-export/1"


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def case_subjects(case: CaseView) -> tuple[str, ...]:
    """Audit subjects that concern this case: the application and its card."""
    subjects = [f"application:{case.application.id}"]
    if case.card is not None:
        subjects.append(f"card:{case.card.id}")
    return tuple(subjects)


def export_case(
    session: Session, *, application_id: str, viewer: StaffPrincipal, now: datetime
) -> dict[str, Any]:
    """The whole case as JSON-ready data (keyframes inlined as base64, card numbers masked).

    The export itself is recorded in the audit log. Needs `review:read`.
    """
    now = require_aware(now)
    require_permission(role=viewer.role, permission=Permission.REVIEW_READ)
    case = load_case(session, application_id=application_id, viewer=viewer, now=now)
    body = _jsonable(asdict(case))
    for evidence in body["liveness"]:
        frames = []
        for frame_id in evidence.pop("keyframe_ids"):
            frame = session.get(LivenessKeyframe, frame_id)
            if frame is not None:
                media_type = "image/png" if frame.image.startswith(b"\x89PNG") else "image/jpeg"
                frames.append({"id": frame.id, "position": frame.position,
                               "media_type": media_type,
                               "base64": base64.b64encode(frame.image).decode("ascii")})
        evidence["keyframes"] = frames
        evidence["plots_svg"] = evidence.pop("plots")
    chain = verify_audit_chain(session)
    body["audit"] = {
        "entries": _jsonable([asdict(row) for row in entries_about(
            session, subjects=case_subjects(case))]),
        "chain": {"ok": chain.ok, "checked": chain.checked,
                  "first_broken_seq": chain.first_broken_seq, "reason": chain.reason},
    }
    record = append_audit(session, actor=viewer.actor, action="case.exported",
                          subject=f"application:{application_id}", details={}, now=now)
    return {"format": EXPORT_FORMAT, "exported_at": now.isoformat(),
            "exported_by": viewer.actor, "export_audit_seq": record.seq, **body}


def export_json(bundle: dict[str, Any]) -> str:
    """Canonical, human-diffable JSON text of an export bundle."""
    return json.dumps(bundle, ensure_ascii=False, indent=2, sort_keys=True)

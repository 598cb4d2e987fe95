"""What every scenario shares: the server, the tester's phones, face clips, staff accounts,
and applications prepared up to the device-binding step."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from web.probe.api import Applicant, Server
from web.probe.faces import FaceClips, render_face_clips
from web.probe.live_session import pass_liveness
from web.probe.phone import Phones
from web.probe.result import ProbeAborted

BINDING_ATTEMPTS_PER_APPLICATION = 3


@dataclass(frozen=True)
class StaffAccount:
    """Credentials of one staff member given on the command line."""

    username: str
    password: str


@dataclass
class _Slot:
    applicant: Applicant
    attempts_left: int


@dataclass
class ProbeContext:
    """Shared state of one probe run (thread-safe where scenarios run concurrently)."""

    server: Server
    device_dir: Path | None
    staff: Sequence[StaffAccount] = ()
    shared: dict[str, Any] = field(default_factory=dict)  # state a scenario family keeps
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _binding_pool: list[_Slot] = field(default_factory=list)

    @cached_property
    def clips(self) -> FaceClips:
        """Face clips (rendered on first use)."""
        return render_face_clips()

    @cached_property
    def phones(self) -> Phones:
        """The server's phone store; ProbeAborted without --device-dir."""
        if self.device_dir is None:
            raise ProbeAborted("this attack needs a phone: pass --device-dir (the server's "
                               "CARDSIM_DEVICE_DIR)")
        return Phones(self.server, self.device_dir)

    def applicant_with_identity(self) -> Applicant:
        """A new application with an honest identity."""
        applicant = self.server.new_applicant()
        applicant.submit_identity()
        return applicant

    def applicant_at_binding(self) -> Applicant:
        """A new application honestly taken through liveness and the interview."""
        applicant = self.applicant_with_identity()
        pass_liveness(applicant, self.clips)
        applicant.answer_interview()
        return applicant

    def binding_attempt(self) -> Applicant:
        """An application at the binding step with one binding attempt reserved for the caller
        (a refused third attempt declines the application, so each serves three attacks)."""
        with self._lock:
            for slot in self._binding_pool:
                if slot.attempts_left > 0:
                    slot.attempts_left -= 1
                    return slot.applicant
        applicant = self.applicant_at_binding()
        with self._lock:
            self._binding_pool.append(_Slot(applicant, BINDING_ATTEMPTS_PER_APPLICATION - 1))
        return applicant

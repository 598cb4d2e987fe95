"""What a trusted application sees of its device during one operation."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from tee_sim.profiles import PROFILES, Profile
from tee_sim.storage import SealedStorage, State

Clock = Callable[[], datetime]
Rng = Callable[[int], bytes]


@dataclass
class DeviceContext:
    """The unsealed state plus the device's injected clock and RNG, for one transaction.

    `counter` is the write counter of the state as last read or written.
    """

    device_id: str
    state: State
    storage: SealedStorage
    clock: Clock
    rng: Rng
    counter: int
    _written: State = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._written = copy.deepcopy(self.state)

    def persist(self) -> None:
        """Seal and write the state now (state file, then RPMB counter) if it changed.

        The transaction does this at its end; a TA calls it earlier to make a change durable
        before acting on it (the PIN TA counts an attempt before comparing the PIN). Raises
        (OSError, TeeError) when the write fails; the caller must then not go on.
        """
        if self.state != self._written:
            self.counter = self.storage.save(self.state, previous_counter=self.counter)
            self._written = copy.deepcopy(self.state)

    @property
    def profile(self) -> Profile:
        """The hardware profile the device was made with."""
        return PROFILES[self.state["profile"]]

    def now_ts(self) -> float:
        """The device clock as a POSIX timestamp."""
        return self.clock().timestamp()

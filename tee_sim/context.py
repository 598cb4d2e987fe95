"""What a trusted application sees of its device during one operation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from tee_sim.profiles import PROFILES, Profile
from tee_sim.storage import SealedStorage, State

Clock = Callable[[], datetime]
Rng = Callable[[int], bytes]


@dataclass
class DeviceContext:
    """The unsealed state plus the device's injected clock and RNG, for one transaction."""

    device_id: str
    state: State
    storage: SealedStorage
    clock: Clock
    rng: Rng

    @property
    def profile(self) -> Profile:
        """The hardware profile the device was made with."""
        return PROFILES[self.state["profile"]]

    def now_ts(self) -> float:
        """The device clock as a POSIX timestamp."""
        return self.clock().timestamp()

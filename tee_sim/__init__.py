"""tee_sim: an emulated phone's secure hardware (TEE trusted apps, secure element, PKI).

Standalone: imports only the stdlib, pynacl and cryptography. The issuer verifies everything it
emits with its own code; the shared byte formats are specified in docs/protocol.md.
"""

from tee_sim.apdu import SW
from tee_sim.client import CHANNEL_TA, CONFIRMATION_TA, KEYSTORE_TA, PIN_TA, TeeSession
from tee_sim.device import Device, DeviceStore, DeviceSummary
from tee_sim.errors import BadParameters, DeviceNotFound, StateIntegrityError, TeeError
from tee_sim.pki import Manufacturer
from tee_sim.profiles import PROFILES, SecurityLevel, VerifiedBootState
from tee_sim.se_applet import PAYMENT_AID
from tee_sim.status import TeeResult, TeeStatus
from tee_sim.ta_channel import ChannelCommand
from tee_sim.ta_confirmation import ConfirmationCommand
from tee_sim.ta_keystore import KeystoreCommand
from tee_sim.ta_pin import PinCommand

__all__ = [
    "CHANNEL_TA",
    "CONFIRMATION_TA",
    "KEYSTORE_TA",
    "PAYMENT_AID",
    "PIN_TA",
    "PROFILES",
    "SW",
    "BadParameters",
    "ChannelCommand",
    "ConfirmationCommand",
    "Device",
    "DeviceNotFound",
    "DeviceStore",
    "DeviceSummary",
    "KeystoreCommand",
    "Manufacturer",
    "PinCommand",
    "SecurityLevel",
    "StateIntegrityError",
    "TeeError",
    "TeeResult",
    "TeeSession",
    "TeeStatus",
    "VerifiedBootState",
]

"""The tester's phones: made by the server's phone panel, then held in hand through tee_sim.

The panel (`POST /device/phones`) manufactures a phone of a profile in the server's device
store, installs the issuer's key and publishes revocations; the probe then opens the same
store (`--device-dir`) with tee_sim's public API, as a person holding the phone would.
"""

from __future__ import annotations

from pathlib import Path

from tee_sim import Device, DeviceStore, wallet
from web.probe.api import Server
from web.probe.result import ProbeAborted

CHAIN_NAMES = ("signing", "agreement", "se")


class Phones:
    """Phones of the server's device store."""

    def __init__(self, server: Server, device_dir: Path) -> None:
        self.server = server
        if not (device_dir / "trust_anchors.pem").exists():
            raise ProbeAborted(f"{device_dir} is not the server's device dir "
                               "(no trust_anchors.pem)")
        self.store = DeviceStore(device_dir)

    def make(self, profile: str = "genuine") -> Device:
        """A new phone of `profile`, made by the server's panel."""
        reply = self.server.call("POST", "/device/phones", json={"profile": profile})
        if reply.status != 201:
            raise ProbeAborted(f"the phone panel did not make a {profile} phone: {reply.reason}")
        return self.store.open(str(reply.field("device_id")))


def attest(device: Device, challenge: bytes) -> dict[str, list[bytes]]:
    """The phone's three attestation chains for `challenge` (leaf first)."""
    keys = wallet.bind(device, challenge=challenge)
    chains: dict[str, list[bytes]] = {}
    for name in CHAIN_NAMES:
        chain = keys[name]["chain"]
        if not isinstance(chain, list) or not all(isinstance(c, bytes) for c in chain):
            raise ProbeAborted(f"the phone returned no {name} chain")
        chains[name] = list(chain)
    return chains

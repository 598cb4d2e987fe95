"""Key attestation chains: openssl accepts them, pyasn1 decodes what each profile promises."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ed25519, x25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tee_sim import Device, DeviceStore, wallet
from tests.tee_sim.keydescription_asn1 import decode_application_id, decode_key_description, present
from tests.tee_sim.support import FakeClock, as_chain

pytestmark = pytest.mark.unit

OID = x509.ObjectIdentifier("1.3.6.1.4.1.11129.2.1.17")
CHALLENGE = b"\x00issuer-challenge\xff" + bytes(range(40))

# profile -> (tee level, SE level, deviceLocked, verifiedBootState, months behind, revoked)
EXPECTED = {
    "genuine": (1, 2, True, 0, 0, False),
    "unlocked": (1, 2, False, 2, 0, False),
    "rooted": (1, 2, False, 1, 0, False),
    "software": (0, 0, True, 0, 0, False),
    "outdated": (1, 2, True, 0, 36, False),
    "revoked": (1, 2, True, 0, 0, True),
}


def test_openssl_supports_ed25519() -> None:
    out = subprocess.run(["openssl", "version"], capture_output=True, text=True, check=True).stdout
    version = re.match(r"OpenSSL (\d+)\.(\d+)\.(\d+)", out)
    assert version is not None, out
    major, minor, patch = (int(x) for x in version.groups())
    assert (major, minor, patch) >= (1, 1, 1), out


def _pem(der: bytes) -> bytes:
    return x509.load_der_x509_certificate(der).public_bytes(Encoding.PEM)


def openssl_verify(
    tmp_path: Path, store: DeviceStore, chain: list[bytes]
) -> subprocess.CompletedProcess[str]:
    store.manufacturer.export(tmp_path / "anchors")
    (tmp_path / "leaf.pem").write_bytes(_pem(chain[0]))
    (tmp_path / "untrusted.pem").write_bytes(b"".join(_pem(c) for c in chain[1:]))
    return subprocess.run(
        [
            "openssl",
            "verify",
            "-CAfile",
            str(tmp_path / "anchors" / "trust_anchors.pem"),
            "-untrusted",
            str(tmp_path / "untrusted.pem"),
            str(tmp_path / "leaf.pem"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )


def _patch(clock: FakeClock, months_behind: int) -> int:
    index = clock.now.year * 12 + clock.now.month - 1 - months_behind
    return (index // 12) * 100 + index % 12 + 1


@pytest.mark.parametrize("profile", sorted(EXPECTED))
def test_every_profile_chain_verifies_and_reports_honestly(
    profile: str,
    make_device: Callable[[str], Device],
    store: DeviceStore,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    tee_level, se_level, locked, boot_state, behind, revoked = EXPECTED[profile]
    device = make_device(profile)
    keys = wallet.bind(device, challenge=CHALLENGE)
    for name, key in keys.items():
        chain = as_chain(key["chain"])
        assert len(chain) == 3
        result = openssl_verify(tmp_path, store, chain)
        assert result.returncode == 0 and result.stdout.strip().endswith(": OK"), result.stderr

        leaf = x509.load_der_x509_certificate(chain[0])
        assert leaf.subject.rfc4514_string() == "CN=Android Keystore Key"
        extension = leaf.extensions.get_extension_for_oid(OID).value
        assert isinstance(extension, x509.UnrecognizedExtension)
        kd = decode_key_description(extension.value)
        level = se_level if name == "se" else tee_level
        assert int(kd["attestationSecurityLevel"]) == level
        assert int(kd["keyMintSecurityLevel"]) == level
        assert int(kd["attestationVersion"]) == 300
        assert bytes(kd["attestationChallenge"]) == CHALLENGE
        sw, hw = kd["softwareEnforced"], kd["hardwareEnforced"]
        # Hardware-backed: everything but creation time and app id is TEE/SE-enforced.
        enforced = sw if level == 0 else hw
        if level == 0:
            assert not any(hw[n].isValue for n in hw)
        else:
            assert present(sw, "creationDateTime") and present(sw, "attestationApplicationId")
            assert not present(sw, "purpose") and not present(sw, "rootOfTrust")
        rot = enforced["rootOfTrust"]
        assert bool(rot["deviceLocked"]) is locked
        assert int(rot["verifiedBootState"]) == boot_state
        manufacturer_key = store.manufacturer.verified_boot_key()
        if profile == "rooted":
            assert bytes(rot["verifiedBootKey"]) not in (manufacturer_key, bytes(32))
        elif profile == "unlocked":
            assert bytes(rot["verifiedBootKey"]) == bytes(32)
        else:
            assert bytes(rot["verifiedBootKey"]) == manufacturer_key
        assert int(enforced["osPatchLevel"]) == _patch(clock, behind)
        assert int(enforced["osVersion"]) == 140000
        assert int(enforced["algorithm"]) == 3 and int(enforced["ecCurve"]) == 4
        assert int(enforced["origin"]) == 0
        purposes = {int(p) for p in enforced["purpose"]}
        if name == "signing":
            assert purposes == {2}
            assert present(enforced, "trustedConfirmationRequired")
            assert present(enforced, "trustedUserPresenceRequired")
            assert not present(enforced, "noAuthRequired")
            assert isinstance(leaf.public_key(), ed25519.Ed25519PublicKey)
        else:
            assert purposes == {6}
            assert present(enforced, "noAuthRequired")
            assert isinstance(leaf.public_key(), x25519.X25519PublicKey)
        raw_public = leaf.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        assert raw_public == key["public_key"]
        app = decode_application_id(bytes(sw["attestationApplicationId"]))
        assert bytes(app["package_infos"][0]["package_name"]) == b"cn.cardsim.wallet"
        assert (
            bytes(app["signature_digests"][0])
            == hashlib.sha256(b"cardsim wallet signing certificate").digest()
        )

    device_cert = x509.load_der_x509_certificate(as_chain(keys["signing"]["chain"])[1])
    constraints = device_cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca and constraints.path_length == 0
    assert (device_cert.serial_number in store.manufacturer.revoked_serials()) is revoked
    exported = json.loads((tmp_path / "anchors" / "revoked_serials.json").read_text())
    assert (str(device_cert.serial_number) in exported["revoked_serials"]) is revoked


def test_chain_from_another_manufacturer_is_rejected_by_openssl(
    make_device: Callable[[str], Device], tmp_path: Path, clock: FakeClock
) -> None:
    other = DeviceStore(tmp_path / "other", clock=clock)
    chain = as_chain(wallet.bind(make_device("genuine"), challenge=b"c")["signing"]["chain"])
    result = openssl_verify(tmp_path, other, chain)
    assert result.returncode != 0


def test_tampered_extension_breaks_the_signature(
    make_device: Callable[[str], Device], store: DeviceStore, tmp_path: Path
) -> None:
    chain = as_chain(wallet.bind(make_device("software"), challenge=b"c")["signing"]["chain"])
    leaf = bytearray(chain[0])
    # Upgrade attestationSecurityLevel Software(0) -> TrustedEnvironment(1) in the signed TBS.
    marker = bytes([0x0A, 0x01, 0x00])  # the first ENUMERATED after the extension OID
    index = leaf.find(marker, leaf.find(bytes.fromhex("2b06010401d679020111")))
    assert index > 0
    leaf[index + 2] = 1
    result = openssl_verify(tmp_path, store, [bytes(leaf), *chain[1:]])
    assert result.returncode != 0


def test_manufacturer_is_shared_and_stable(tmp_path: Path, clock: FakeClock) -> None:
    a = DeviceStore(tmp_path / "d", clock=clock).manufacturer
    b = DeviceStore(tmp_path / "d", clock=clock).manufacturer
    assert a.trust_anchors_pem() == b.trust_anchors_pem()
    assert a.intermediates_pem() == b.intermediates_pem()
    root = x509.load_pem_x509_certificate(a.trust_anchors_pem())
    assert root.issuer == root.subject
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca

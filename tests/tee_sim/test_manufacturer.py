"""The manufacturer PKI is created only into an empty place; a partial or damaged one is refused
and left exactly as it was (replacing it would orphan every device and forget revocations)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tee_sim import DeviceStore, Manufacturer, TeeError, TeeStatus
from tests.tee_sim.support import FakeClock

pytestmark = pytest.mark.unit

PKI_FILES = [
    "root_key.pem",
    "root_cert.pem",
    "intermediate_key.pem",
    "intermediate_cert.pem",
    "revoked_serials.json",
    "verified_boot_key.bin",
]


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file under `directory` (but the lock file) and its bytes."""
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


@pytest.fixture
def made(tmp_path: Path, clock: FakeClock) -> Path:
    """A store with one revoked and one genuine device."""
    store = DeviceStore(tmp_path / "devices", clock=clock)
    store.create("revoked")
    store.create("genuine")
    assert len(store.manufacturer.revoked_serials()) == 1
    return tmp_path / "devices"


@pytest.mark.parametrize("missing", PKI_FILES)
@pytest.mark.parametrize("create", [True, False])
def test_a_partial_pki_is_refused_and_not_rebuilt(
    made: Path, clock: FakeClock, missing: str, create: bool
) -> None:
    (made / ".manufacturer" / missing).unlink()
    before = snapshot(made)
    with pytest.raises(TeeError, match=f"incomplete \\(missing {missing}\\)") as caught:
        DeviceStore(made, clock=clock, create_manufacturer=create)
    assert caught.value.status is TeeStatus.TEEC_ERROR_BAD_STATE
    assert snapshot(made) == before


OTHER_CERT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("root_key.pem", b""),
        ("intermediate_key.pem", b"garbage"),
        ("root_cert.pem", OTHER_CERT.encode()),
        ("intermediate_cert.pem", b"\x00" * 40),
        ("verified_boot_key.bin", b"short"),
    ],
)
def test_a_damaged_pki_file_is_refused_by_name(
    made: Path, clock: FakeClock, name: str, content: bytes
) -> None:
    (made / ".manufacturer" / name).write_bytes(content)
    before = snapshot(made)
    with pytest.raises(TeeError, match=re.escape(name)):
        DeviceStore(made, clock=clock)
    assert snapshot(made) == before


def test_certificates_swapped_for_another_manufacturers_are_refused(
    made: Path, tmp_path: Path, clock: FakeClock
) -> None:
    other = DeviceStore(tmp_path / "other", clock=clock).directory / ".manufacturer"
    for name in ("root_cert.pem", "intermediate_cert.pem"):
        (made / ".manufacturer" / name).write_bytes((other / name).read_bytes())
        with pytest.raises(TeeError, match="does not match its private key"):
            DeviceStore(made, clock=clock)


def test_an_intermediate_from_another_root_is_refused(
    made: Path, tmp_path: Path, clock: FakeClock
) -> None:
    other = DeviceStore(tmp_path / "other", clock=clock).directory / ".manufacturer"
    for name in ("intermediate_cert.pem", "intermediate_key.pem"):
        (made / ".manufacturer" / name).write_bytes((other / name).read_bytes())
    with pytest.raises(TeeError, match="is not issued by"):
        DeviceStore(made, clock=clock)


def test_load_writes_nothing_where_there_is_no_pki(tmp_path: Path) -> None:
    with pytest.raises(TeeError) as caught:
        Manufacturer.load(tmp_path / "typo" / ".manufacturer")
    assert caught.value.status is TeeStatus.TEEC_ERROR_ITEM_NOT_FOUND
    assert not (tmp_path / "typo").exists()
    with pytest.raises(TeeError):
        DeviceStore(tmp_path / "typo", create_manufacturer=False)
    assert not (tmp_path / "typo").exists()


def test_load_opens_the_existing_pki(made: Path) -> None:
    loaded = Manufacturer.load(made / ".manufacturer")
    created = Manufacturer.load_or_create(made / ".manufacturer")
    assert loaded.trust_anchors_pem() == created.trust_anchors_pem()
    assert loaded.revoked_serials() == created.revoked_serials()


LIST_DAMAGED = re.escape("revoked_serials.json is damaged")
DAMAGED_LISTS = [
    b"",
    b"garbage",
    b"\xff\xfe",
    b'{"x": 1}',
    b'["abc"]',
    b"null",
    b'{"revoked_serials": "123"}',
    b'{"revoked_serials": ["abc"]}',
    b'{"revoked_serials": [1.5]}',
    b'{"revoked_serials": [true]}',
    b'{"revoked_serials": [null]}',
    b'{"revoked_serials": ["-5"]}',
    b'{"revoked_serials": ["' + b"9" * 5000 + b'"]}',
]


@pytest.mark.parametrize("content", DAMAGED_LISTS)
def test_a_damaged_revocation_list_is_a_tee_error_and_exports_nothing(
    made: Path, tmp_path: Path, clock: FakeClock, content: bytes
) -> None:
    store = DeviceStore(made, clock=clock)
    (made / ".manufacturer" / "revoked_serials.json").write_bytes(content)
    with pytest.raises(TeeError, match=LIST_DAMAGED):
        store.manufacturer.revoked_serials()
    with pytest.raises(TeeError, match=LIST_DAMAGED):
        store.manufacturer.export(tmp_path / "anchors")
    assert not (tmp_path / "anchors").exists()
    before = snapshot(made)
    with pytest.raises(TeeError, match=LIST_DAMAGED):
        store.create("revoked")
    with pytest.raises(TeeError, match=LIST_DAMAGED):
        DeviceStore(made, clock=clock)
    assert snapshot(made) == before


def test_serials_may_be_decimal_strings_or_integers(made: Path, clock: FakeClock) -> None:
    (made / ".manufacturer" / "revoked_serials.json").write_text(
        '{"revoked_serials": ["12", 34]}'
    )
    assert DeviceStore(made, clock=clock).manufacturer.revoked_serials() == {12, 34}


def _fixed_rng(n: int) -> bytes:
    return b"\x01" * n


def test_a_failed_revoked_manufacture_revokes_nothing(made: Path, clock: FakeClock) -> None:
    store = DeviceStore(made, clock=clock, rng=_fixed_rng)
    revoked = store.manufacturer.revoked_serials()
    blocker = made / "dev-0101010101010101"
    blocker.write_bytes(b"not a directory")  # the device directory cannot be created
    with pytest.raises(TeeError, match="cannot create device"):
        store.create("revoked")
    assert store.manufacturer.revoked_serials() == revoked
    assert not (made / ".fuses" / blocker.name).exists()
    assert not (made / ".rpmb" / blocker.name).exists()
    assert blocker.read_bytes() == b"not a directory"


def test_a_failed_revocation_discards_the_new_device(
    made: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = DeviceStore(made, clock=clock, rng=_fixed_rng)
    before = snapshot(made)

    def refuse(serial: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store.manufacturer, "revoke", refuse)
    with pytest.raises(TeeError, match="No space left on device"):
        store.create("revoked")
    assert snapshot(made) == before  # no half-made, unrevoked "revoked" phone is left
    assert len(store.list()) == 2  # the two devices `made` created, nothing else

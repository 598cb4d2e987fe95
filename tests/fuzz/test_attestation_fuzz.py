"""Real tee_sim attestation chains, mutated: the issuer's verifier only ever says "rejected"."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from issuer.devicetrust import (
    AttestationRejected,
    ManufacturerTrust,
    load_manufacturer_trust,
    verify_device_binding,
)
from tee_sim import DeviceStore
from tee_sim.wallet import bind

pytestmark = pytest.mark.unit

FUZZ = settings(max_examples=200, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
CHALLENGE = b"issuer-challenge-0123456789abcdef"
NAMES = ("signing", "agreement", "se")
Chains = dict[str, list[bytes]]


@pytest.fixture(scope="module")
def genuine(tmp_path_factory: pytest.TempPathFactory) -> tuple[Chains, ManufacturerTrust]:
    root = Path(tmp_path_factory.mktemp("attest"))
    store = DeviceStore(root / "devices")
    bound = bind(store.open(store.create("genuine")), challenge=CHALLENGE)
    store.manufacturer.export(root / "export")
    chains = {name: list(bound[name]["chain"]) for name in NAMES}  # type: ignore[call-overload]
    return chains, load_manufacturer_trust(root / "export")


def verify(chains: Chains, trust: ManufacturerTrust) -> object:
    return verify_device_binding(
        signing_chain=chains["signing"], agreement_chain=chains["agreement"],
        se_chain=chains["se"], expected_challenge=CHALLENGE,
        trust_anchors=trust.trust_anchors, revoked_serials=trust.revoked_serials,
        now=datetime.now(UTC), trusted_boot_keys=trust.verified_boot_keys,
    )


def test_the_unmutated_chains_verify(genuine: tuple[Chains, ManufacturerTrust]) -> None:
    assert verify(*genuine) is not None


@st.composite
def mutation(draw: st.DrawFn, chains: Chains) -> Chains:
    name = draw(st.sampled_from(NAMES))
    index = draw(st.integers(0, len(chains[name]) - 1))
    der = bytearray(chains[name][index])
    kind = draw(st.sampled_from(["flip", "truncate", "insert", "swap", "drop", "duplicate"]))
    out = {k: list(v) for k, v in chains.items()}
    if kind == "flip":
        pos = draw(st.integers(0, len(der) - 1))
        der[pos] ^= draw(st.integers(1, 255))
        out[name][index] = bytes(der)
    elif kind == "truncate":
        out[name][index] = bytes(der[: draw(st.integers(0, len(der) - 1))])
    elif kind == "insert":
        pos = draw(st.integers(0, len(der)))
        out[name][index] = bytes(der[:pos]) + draw(st.binary(min_size=1, max_size=8)) + bytes(
            der[pos:])
    elif kind == "swap":
        other = draw(st.sampled_from([n for n in NAMES if n != name]))
        out[name], out[other] = out[other], out[name]
    elif kind == "drop":
        del out[name][index]
    else:
        out[name].insert(index, out[name][index])
    return out


@FUZZ
@given(data=st.data())
def test_any_mutation_is_rejected_with_a_reason(
    genuine: tuple[Chains, ManufacturerTrust], data: st.DataObject
) -> None:
    chains, trust = genuine
    mutated = data.draw(mutation(chains))
    try:
        verify(mutated, trust)
    except AttestationRejected as exc:
        assert exc.reason and exc.message
    else:
        # Only a mutation that leaves the DER of every certificate intact may still verify
        # (e.g. a flipped bit in an unsigned outer field that DER-decodes identically).
        assert all(len(mutated[n]) == len(chains[n]) for n in NAMES)
        assert {n: [bytes(c) for c in mutated[n]] for n in NAMES} == chains, "forged chain passed"

"""Keystore TA (modelled on KeyMint): attested Ed25519/X25519 keys that never leave the TEE."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from enum import IntEnum
from typing import Any

import nacl.public
import nacl.signing
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ed25519, x25519
from cryptography.hazmat.primitives.serialization import Encoding

from tee_sim.context import DeviceContext
from tee_sim.errors import BadParameters, TeeError
from tee_sim.key_description import (
    KEY_DESCRIPTION_OID,
    KeyFacts,
    RootOfTrust,
    encode_key_description,
)
from tee_sim.params import check_names, get_alias, get_bool, get_bytes, get_choice
from tee_sim.pki import LEAF_NOT_AFTER, build_certificate
from tee_sim.profiles import VerifiedBootState, patch_level
from tee_sim.se_applet import LIFE_CYCLE_PERSONALIZED
from tee_sim.status import TeeResult, TeeStatus

MAX_KEYS = 32
CHALLENGE_MAX_BYTES = 128
LEAF_SUBJECT = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "Android Keystore Key")])


class KeystoreCommand(IntEnum):
    """Commands of KEYSTORE_TA."""

    GENERATE_KEY = 1
    SIGN = 2
    GET_CHAIN = 3
    LIST_KEYS = 4
    DELETE_KEY = 5


def _key(ctx: DeviceContext, alias: str) -> dict[str, Any]:
    key: dict[str, Any] | None = ctx.state["keys"].get(alias)
    if key is None:
        raise TeeError(f"no key with alias {alias!r}", status=TeeStatus.TEEC_ERROR_ITEM_NOT_FOUND)
    return key


def _guard_se_key(ctx: DeviceContext, alias: str) -> None:
    se = ctx.state["se"]
    if se["key_alias"] == alias and se["life_cycle"] == LIFE_CYCLE_PERSONALIZED:
        raise TeeError(
            "the secure element is personalized; its key cannot be replaced or deleted",
            status=TeeStatus.TEEC_ERROR_ACCESS_DENIED,
        )


def _attest(ctx: DeviceContext, *, kind: str, public: bytes, facts: KeyFacts) -> list[bytes]:
    state = ctx.state
    device_cert = x509.load_der_x509_certificate(state["device_cert"])
    public_key: ed25519.Ed25519PublicKey | x25519.X25519PublicKey = (
        ed25519.Ed25519PublicKey.from_public_bytes(public)
        if kind == "ed25519"
        else x25519.X25519PublicKey.from_public_bytes(public)
    )
    leaf = build_certificate(
        subject=LEAF_SUBJECT,
        issuer=device_cert.subject,
        public_key=public_key,
        signing_key=ed25519.Ed25519PrivateKey.from_private_bytes(state["attestation_key"]),
        not_before=ctx.clock() - timedelta(minutes=1),
        not_after=LEAF_NOT_AFTER,
        ca_path_length=False,
        key_usage="sign" if kind == "ed25519" else "agree",
        extra=[
            x509.UnrecognizedExtension(
                x509.ObjectIdentifier(KEY_DESCRIPTION_OID), encode_key_description(facts)
            )
        ],
    )
    return [leaf.public_bytes(Encoding.DER), state["device_cert"], state["intermediate_cert"]]


def generate_key(ctx: DeviceContext, params: Mapping[str, object]) -> TeeResult:
    """GENERATE_KEY(alias, kind, challenge, [confirmation, user_presence, strongbox])."""
    check_names(
        params, {"alias", "kind", "challenge", "confirmation", "user_presence", "strongbox"}
    )
    alias = get_alias(params)
    kind = get_choice(params, "kind", ("ed25519", "x25519"))
    challenge = get_bytes(params, "challenge", min_len=1, max_len=CHALLENGE_MAX_BYTES)
    confirmation = get_bool(params, "confirmation")
    user_presence = get_bool(params, "user_presence")
    strongbox = get_bool(params, "strongbox")
    if kind == "x25519" and (confirmation or user_presence):
        raise BadParameters("confirmation/user_presence apply to ed25519 signing keys only")
    if strongbox and kind != "x25519":
        raise BadParameters("strongbox keys are the payment applet's x25519 key only")
    keys = ctx.state["keys"]
    if alias not in keys and len(keys) >= MAX_KEYS:
        raise TeeError(
            f"keystore full ({MAX_KEYS} keys)", status=TeeStatus.TEEC_ERROR_ACCESS_DENIED
        )
    _guard_se_key(ctx, alias)
    if strongbox:
        _guard_se_key(ctx, ctx.state["se"]["key_alias"])
    profile = ctx.profile
    level = profile.strongbox_level if strongbox else profile.tee_level
    seed = ctx.rng(32)
    if kind == "ed25519":
        public = bytes(nacl.signing.SigningKey(seed).verify_key)
    else:
        public = bytes(nacl.public.PrivateKey(seed).public_key)
    now = ctx.clock()
    year, month = patch_level(now.year, now.month, profile.patch_months_behind)
    facts = KeyFacts(
        kind=kind,
        security_level=level,
        challenge=challenge,
        confirmation_required=confirmation,
        user_presence_required=user_presence,
        creation_ms=int(now.timestamp() * 1000),
        root_of_trust=RootOfTrust(
            verified_boot_key=ctx.state["boot_key"],
            device_locked=profile.device_locked,
            verified_boot_state=VerifiedBootState(profile.boot_state),
            verified_boot_hash=ctx.state["boot_hash"],
        ),
        os_patch_level=year * 100 + month,
    )
    chain = _attest(ctx, kind=kind, public=public, facts=facts)
    keys[alias] = {
        "kind": kind,
        "private": seed,
        "public": public,
        "level": int(level),
        "confirmation": confirmation,
        "user_presence": user_presence,
        "strongbox": strongbox,
        "chain": chain,
    }
    if strongbox:
        ctx.state["se"]["key_alias"] = alias
    elif ctx.state["se"]["key_alias"] == alias:
        ctx.state["se"]["key_alias"] = None
    return TeeResult(
        TeeStatus.TEEC_SUCCESS,
        {"alias": alias, "public_key": public, "security_level": int(level), "chain": list(chain)},
    )


def sign(ctx: DeviceContext, params: Mapping[str, object]) -> TeeResult:
    """SIGN(alias, message) with an Ed25519 key that needs no trusted confirmation."""
    check_names(params, {"alias", "message"})
    key = _key(ctx, get_alias(params))
    message = get_bytes(params, "message", max_len=65536)
    if key["kind"] != "ed25519":
        raise BadParameters("key purpose is AGREE_KEY; it cannot sign")
    if key["confirmation"] or key["user_presence"]:
        raise TeeError(
            "key requires trusted confirmation/user presence; sign through CONFIRMATION_TA",
            status=TeeStatus.TEEC_ERROR_ACCESS_DENIED,
        )
    signature = nacl.signing.SigningKey(key["private"]).sign(message).signature
    return TeeResult(TeeStatus.TEEC_SUCCESS, {"signature": bytes(signature)})


def get_chain(ctx: DeviceContext, params: Mapping[str, object]) -> TeeResult:
    """GET_CHAIN(alias): the attestation chain made at generation, leaf first, root excluded."""
    check_names(params, {"alias"})
    key = _key(ctx, get_alias(params))
    return TeeResult(
        TeeStatus.TEEC_SUCCESS,
        {"chain": list(key["chain"]), "public_key": key["public"], "kind": key["kind"]},
    )


def list_keys(ctx: DeviceContext, params: Mapping[str, object]) -> TeeResult:
    """LIST_KEYS(): aliases of the keys in the keystore."""
    check_names(params, set())
    return TeeResult(TeeStatus.TEEC_SUCCESS, {"aliases": sorted(ctx.state["keys"])})


def delete_key(ctx: DeviceContext, params: Mapping[str, object]) -> TeeResult:
    """DELETE_KEY(alias)."""
    check_names(params, {"alias"})
    alias = get_alias(params)
    _key(ctx, alias)
    _guard_se_key(ctx, alias)
    del ctx.state["keys"][alias]
    if ctx.state["se"]["key_alias"] == alias:
        ctx.state["se"]["key_alias"] = None
    channel = ctx.state["channel"]
    if channel is not None and channel["alias"] == alias:
        ctx.state["channel"] = None
    return TeeResult(TeeStatus.TEEC_SUCCESS, {})


HANDLERS = {
    KeystoreCommand.GENERATE_KEY: generate_key,
    KeystoreCommand.SIGN: sign,
    KeystoreCommand.GET_CHAIN: get_chain,
    KeystoreCommand.LIST_KEYS: list_keys,
    KeystoreCommand.DELETE_KEY: delete_key,
}

"""Channel TA: the secure channel endpoint to the issuer (protocol §4), and the TEE→SE bridge."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from enum import IntEnum
from typing import Any

import nacl.bindings
import nacl.exceptions
import nacl.signing

from tee_sim import se_applet
from tee_sim.context import DeviceContext
from tee_sim.errors import BadParameters, TeeError
from tee_sim.formats import (
    CHANNEL_HELLO_BYTES,
    CHANNEL_HELLO_VERSION,
    DIRECTION_DEVICE_TO_ISSUER,
    DIRECTION_ISSUER_TO_DEVICE,
    RECORD_APP_DATA,
    RECORD_OVERHEAD,
    RECORD_PROVISION,
    RECORD_PROVISION_RESULT,
    channel_keys,
    hello_signed_message,
    open_record,
    seal_record,
)
from tee_sim.params import check_names, get_alias, get_bytes
from tee_sim.status import TeeResult, TeeStatus

MAX_RECORD_BYTES = 8192
STORE_DATA_BLOCK = 255
MAX_HELLOS_PER_KEY = 1024  # hellos remembered per agreement key (16 bytes each)


class ChannelCommand(IntEnum):
    """Commands of CHANNEL_TA."""

    OPEN = 1
    DELIVER = 2
    SEAL = 3
    STATUS = 4
    CLOSE = 5


def open_channel(ctx: DeviceContext, params: Mapping[str, object]) -> TeeResult:
    """OPEN(hello, alias): accept the issuer's signed hello on the attested X25519 key `alias`."""
    check_names(params, {"hello", "alias"})
    hello = get_bytes(params, "hello", min_len=CHANNEL_HELLO_BYTES, max_len=CHANNEL_HELLO_BYTES)
    alias = get_alias(params)
    key: dict[str, Any] | None = ctx.state["keys"].get(alias)
    if key is None:
        raise TeeError(f"no key with alias {alias!r}", status=TeeStatus.TEEC_ERROR_ITEM_NOT_FOUND)
    if key["kind"] != "x25519" or key["strongbox"]:
        raise BadParameters("the channel needs the TEE's X25519 agreement key")
    issuer_key = ctx.state["issuer_public_key"]
    if issuer_key is None:
        raise TeeError(
            "no issuer key installed on this device", status=TeeStatus.TEEC_ERROR_ACCESS_DENIED
        )
    if hello[0] != CHANNEL_HELLO_VERSION:
        raise TeeError(
            f"unsupported hello version {hello[0]}", status=TeeStatus.TEEC_ERROR_BAD_FORMAT
        )
    ephemeral, signature = hello[1:33], hello[33:]
    try:
        nacl.signing.VerifyKey(issuer_key).verify(
            hello_signed_message(device_public_key=key["public"], ephemeral_public_key=ephemeral),
            signature,
        )
    except nacl.exceptions.BadSignatureError as exc:
        raise TeeError(
            "hello is not signed by the installed issuer key", status=TeeStatus.TEEC_ERROR_SECURITY
        ) from exc
    # The hello has no freshness from the device: a recorded one would reopen the same channel
    # (its records accepted again from seq 0, new records sealed under the same key and nonces).
    # So the device remembers every hello it accepted on this key and refuses it a second time.
    seen: list[bytes] = key.setdefault("hellos", [])
    mark = hashlib.sha256(b"cardsim-channel-hello-seen\x00" + ephemeral).digest()[:16]
    if any(hmac.compare_digest(mark, old) for old in seen):
        raise TeeError(
            "replayed hello: this issuer ephemeral key was already used on this device",
            status=TeeStatus.TEEC_ERROR_SECURITY,
        )
    if len(seen) >= MAX_HELLOS_PER_KEY:
        raise TeeError(
            f"this agreement key has opened {MAX_HELLOS_PER_KEY} channels; generate a new one",
            status=TeeStatus.TEEC_ERROR_ACCESS_DENIED,
        )
    try:
        shared = nacl.bindings.crypto_scalarmult(key["private"], ephemeral)
    except nacl.exceptions.RuntimeError as exc:
        raise TeeError("degenerate ephemeral key", status=TeeStatus.TEEC_ERROR_SECURITY) from exc
    if hmac.compare_digest(shared, bytes(32)):
        raise TeeError("degenerate ephemeral key", status=TeeStatus.TEEC_ERROR_SECURITY)
    k_i2d, k_d2i = channel_keys(
        shared_secret=shared, ephemeral_public_key=ephemeral, device_public_key=key["public"]
    )
    seen.append(mark)
    ctx.state["channel"] = {
        "alias": alias,
        "k_i2d": k_i2d,
        "k_d2i": k_d2i,
        "recv_seq": 0,
        "send_seq": 0,
    }
    return TeeResult(TeeStatus.TEEC_SUCCESS, {"state": "open"})


def _channel(ctx: DeviceContext) -> dict[str, Any]:
    channel: dict[str, Any] | None = ctx.state["channel"]
    if channel is None:
        raise TeeError("no secure channel is open", status=TeeStatus.TEEC_ERROR_BAD_STATE)
    return channel


def _seal(channel: dict[str, Any], plaintext: bytes) -> bytes:
    record = seal_record(
        key=channel["k_d2i"],
        direction=DIRECTION_DEVICE_TO_ISSUER,
        seq=channel["send_seq"],
        plaintext=plaintext,
    )
    channel["send_seq"] += 1
    return record


def _forward_to_se(ctx: DeviceContext, payload: bytes) -> int:
    """SELECT the payment applet and STORE DATA the payload in blocks; the final SW."""
    select = bytes([0x00, 0xA4, 0x04, 0x00, len(se_applet.PAYMENT_AID)]) + se_applet.PAYMENT_AID
    answer = se_applet.process(ctx, select)
    if answer[-2:] != b"\x90\x00":
        return int.from_bytes(answer[-2:], "big")
    blocks = [payload[i : i + STORE_DATA_BLOCK] for i in range(0, len(payload), STORE_DATA_BLOCK)]
    if not blocks or len(blocks) > 0xFF:
        return 0x6700
    for number, block in enumerate(blocks):
        p1 = 0x80 if number == len(blocks) - 1 else 0x00
        apdu = bytes([0x80, 0xE2, p1, number, len(block)]) + block
        answer = se_applet.process(ctx, apdu)
        if answer[-2:] != b"\x90\x00":
            break
    return int.from_bytes(answer[-2:], "big")


def deliver(ctx: DeviceContext, params: Mapping[str, object]) -> TeeResult:
    """DELIVER(record): open an issuer record; a PROVISION record goes to the SE applet."""
    check_names(params, {"record"})
    record = get_bytes(params, "record", min_len=RECORD_OVERHEAD, max_len=MAX_RECORD_BYTES)
    channel = _channel(ctx)
    plaintext = open_record(
        key=channel["k_i2d"],
        direction=DIRECTION_ISSUER_TO_DEVICE,
        expected_seq=channel["recv_seq"],
        record=record,
    )
    channel["recv_seq"] += 1
    if not plaintext:
        return TeeResult(TeeStatus.TEEC_ERROR_BAD_FORMAT, {"error": "empty record"})
    kind, body = plaintext[0], plaintext[1:]
    if kind == RECORD_APP_DATA:
        return TeeResult(TeeStatus.TEEC_SUCCESS, {"type": "app_data", "data": body})
    if kind != RECORD_PROVISION:
        return TeeResult(
            TeeStatus.TEEC_ERROR_BAD_FORMAT, {"error": f"unknown record type {kind:#04x}"}
        )
    sw = _forward_to_se(ctx, body)
    reply = _seal(channel, bytes([RECORD_PROVISION_RESULT]) + sw.to_bytes(2, "big"))
    return TeeResult(TeeStatus.TEEC_SUCCESS, {"type": "provision", "sw": sw, "response": reply})


def seal(ctx: DeviceContext, params: Mapping[str, object]) -> TeeResult:
    """SEAL(data): an APP_DATA record from the device to the issuer."""
    check_names(params, {"data"})
    data = get_bytes(params, "data", max_len=MAX_RECORD_BYTES - RECORD_OVERHEAD - 1)
    record = _seal(_channel(ctx), bytes([RECORD_APP_DATA]) + data)
    return TeeResult(TeeStatus.TEEC_SUCCESS, {"record": record})


def status(ctx: DeviceContext, params: Mapping[str, object]) -> TeeResult:
    """STATUS(): whether a channel is open, and its sequence numbers."""
    check_names(params, set())
    channel = ctx.state["channel"]
    if channel is None:
        return TeeResult(TeeStatus.TEEC_SUCCESS, {"open": False})
    return TeeResult(
        TeeStatus.TEEC_SUCCESS,
        {
            "open": True,
            "alias": channel["alias"],
            "recv_seq": channel["recv_seq"],
            "send_seq": channel["send_seq"],
        },
    )


def close(ctx: DeviceContext, params: Mapping[str, object]) -> TeeResult:
    """CLOSE(): forget the channel keys."""
    check_names(params, set())
    ctx.state["channel"] = None
    return TeeResult(TeeStatus.TEEC_SUCCESS, {})


HANDLERS = {
    ChannelCommand.OPEN: open_channel,
    ChannelCommand.DELIVER: deliver,
    ChannelCommand.SEAL: seal,
    ChannelCommand.STATUS: status,
    ChannelCommand.CLOSE: close,
}

"""The secure element and its payment applet, reached only through ISO 7816-4 APDUs."""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING, Any

import nacl.exceptions
import nacl.public
import nacl.signing

from tee_sim.apdu import SW, ApduError, CommandApdu, parse_apdu, response
from tee_sim.context import DeviceContext
from tee_sim.errors import TeeError
from tee_sim.formats import SE_CHALLENGE_BYTES, decode_card_data, perso_signed_message

if TYPE_CHECKING:
    from tee_sim.device import Device

PAYMENT_AID = bytes.fromhex("A000000333010102")
LIFE_CYCLE_SELECTABLE = 0x07
LIFE_CYCLE_PERSONALIZED = 0x0F
MAX_PAYLOAD_BYTES = 4096
CDCVM_REQUIRED = True

INS_SELECT = 0xA4
INS_GET_CHALLENGE = 0x84
INS_STORE_DATA = 0xE2
INS_GET_DATA = 0xCA
INS_GENERATE_AC = 0xAE
_CLA_FOR_INS = {
    INS_SELECT: 0x00,
    INS_GET_CHALLENGE: 0x00,
    INS_STORE_DATA: 0x80,
    INS_GET_DATA: 0x80,
    INS_GENERATE_AC: 0x80,
}
SECRET_TAGS = frozenset({0x5A, 0x57, 0xDF10})


def _tlv(tag: int, value: bytes) -> bytes:
    tag_bytes = tag.to_bytes(2 if tag > 0xFF else 1, "big")
    return tag_bytes + bytes([len(value)]) + value


def _fci() -> bytes:
    inner = _tlv(0x84, PAYMENT_AID) + _tlv(0xA5, b"")
    return _tlv(0x6F, inner)


class SecureElement:
    """Dispatches APDUs to the payment applet; never raises, always answers a status word."""

    @staticmethod
    def transmit(device: Device, apdu: bytes) -> bytes:
        """Process one command APDU against the device's persisted SE state."""
        if not isinstance(apdu, bytes | bytearray):
            return response(b"", SW.WRONG_LENGTH)
        try:
            with device.transaction() as ctx:
                return process(ctx, bytes(apdu))
        except TeeError:
            return response(b"", SW.MEMORY_FAILURE)
        except Exception:  # the SE must answer a status word, never a stack trace
            return response(b"", SW.NO_PRECISE_DIAGNOSIS)


def process(ctx: DeviceContext, raw: bytes) -> bytes:
    """Process one APDU inside an open device transaction."""
    try:
        cmd = parse_apdu(raw)
        expected_cla = _CLA_FOR_INS.get(cmd.ins)
        if expected_cla is None:
            raise ApduError(SW.INS_NOT_SUPPORTED)
        if cmd.cla != expected_cla:
            raise ApduError(SW.CLA_NOT_SUPPORTED)
        se: dict[str, Any] = ctx.state["se"]
        if cmd.ins == INS_SELECT:
            return _select(se, cmd)
        if not se["selected"]:
            raise ApduError(SW.CONDITIONS_NOT_SATISFIED)
        if cmd.ins == INS_GET_CHALLENGE:
            return _get_challenge(ctx, se, cmd)
        if cmd.ins == INS_STORE_DATA:
            return _store_data(ctx, se, cmd)
        if cmd.ins == INS_GET_DATA:
            return _get_data(se, cmd)
        return _generate_ac(ctx, se, cmd)
    except ApduError as exc:
        return response(b"", exc.sw)


def _select(se: dict[str, Any], cmd: CommandApdu) -> bytes:
    if cmd.p1 != 0x04 or cmd.p2 not in (0x00, 0x0C):
        raise ApduError(SW.INCORRECT_P1P2)
    if not 5 <= len(cmd.data) <= 16:
        raise ApduError(SW.WRONG_LENGTH)
    if cmd.data != PAYMENT_AID:
        se["selected"] = False
        raise ApduError(SW.APPLET_NOT_FOUND)
    se.update(selected=True, buffer=b"", next_block=0)
    return response(_fci() if cmd.p2 == 0x00 else b"", SW.OK)


def _get_challenge(ctx: DeviceContext, se: dict[str, Any], cmd: CommandApdu) -> bytes:
    if cmd.p1 or cmd.p2:
        raise ApduError(SW.INCORRECT_P1P2)
    if cmd.data or cmd.le != SE_CHALLENGE_BYTES:
        raise ApduError(SW.WRONG_LENGTH)
    se["challenge"] = ctx.rng(SE_CHALLENGE_BYTES)
    return response(se["challenge"], SW.OK)


def _store_data(ctx: DeviceContext, se: dict[str, Any], cmd: CommandApdu) -> bytes:
    if cmd.p1 not in (0x00, 0x80):
        raise ApduError(SW.INCORRECT_P1P2)
    if cmd.p2 == 0:
        se.update(buffer=b"", next_block=0)
    elif cmd.p2 != se["next_block"]:
        raise ApduError(SW.INCORRECT_P1P2)
    if not cmd.data:
        raise ApduError(SW.WRONG_LENGTH)
    buffer = se["buffer"] + cmd.data
    if len(buffer) > MAX_PAYLOAD_BYTES:
        se.update(buffer=b"", next_block=0)
        raise ApduError(SW.NOT_ENOUGH_MEMORY)
    if cmd.p1 == 0x00:
        if se["next_block"] >= 0xFF:
            se.update(buffer=b"", next_block=0)
            raise ApduError(SW.NOT_ENOUGH_MEMORY)
        se.update(buffer=buffer, next_block=cmd.p2 + 1)
        return response(b"", SW.OK)
    se.update(buffer=b"", next_block=0)
    return response(b"", _personalize(ctx, se, buffer))


def _personalize(ctx: DeviceContext, se: dict[str, Any], payload: bytes) -> SW:
    issuer_key = ctx.state["issuer_public_key"]
    if issuer_key is None:
        return SW.SECURITY_STATUS_NOT_SATISFIED
    if se["life_cycle"] == LIFE_CYCLE_PERSONALIZED or se["key_alias"] is None:
        return SW.CONDITIONS_NOT_SATISFIED
    challenge, se["challenge"] = se["challenge"], None  # every attempt consumes the challenge
    if challenge is None:
        return SW.CONDITIONS_NOT_SATISFIED
    key = ctx.state["keys"][se["key_alias"]]
    try:
        signed = nacl.public.SealedBox(nacl.public.PrivateKey(key["private"])).decrypt(payload)
    except nacl.exceptions.CryptoError:
        return SW.SECURITY_STATUS_NOT_SATISFIED
    if len(signed) < 64:
        return SW.INCORRECT_DATA
    inner, signature = signed[:-64], signed[-64:]
    try:
        nacl.signing.VerifyKey(issuer_key).verify(
            perso_signed_message(se_public_key=key["public"], inner=inner), signature
        )
    except nacl.exceptions.BadSignatureError:
        return SW.SECURITY_STATUS_NOT_SATISFIED
    try:
        card = decode_card_data(inner)
    except ValueError:
        return SW.INCORRECT_DATA
    if not hmac.compare_digest(card.challenge, challenge):
        return SW.CONDITIONS_NOT_SATISFIED
    se["card"] = {
        "pan": card.pan,
        "dpan": card.dpan,
        "expiry": card.expiry,
        "cardholder": card.cardholder,
        "card_key": card.card_key,
        "card_ref": card.card_ref,
    }
    se.update(life_cycle=LIFE_CYCLE_PERSONALIZED, atc=0)
    return SW.OK


def _get_data(se: dict[str, Any], cmd: CommandApdu) -> bytes:
    if cmd.data:
        raise ApduError(SW.WRONG_LENGTH)
    tag = (cmd.p1 << 8) | cmd.p2
    if tag in SECRET_TAGS:
        raise ApduError(SW.SECURITY_STATUS_NOT_SATISFIED)
    card = se["card"]
    value: bytes | None = None
    if tag == 0x9F36:
        value = se["atc"].to_bytes(2, "big")
    elif tag == 0xDF04:
        value = bytes([se["life_cycle"]])
    elif card is not None:
        value = {
            0xDF01: card["pan"][-4:].encode(),
            0xDF02: card["dpan"][-4:].encode(),
            0xDF03: card["expiry"].encode(),
            0x5F20: card["cardholder"].encode("utf-8"),
        }.get(tag)
    if value is None:
        raise ApduError(SW.REFERENCED_DATA_NOT_FOUND)
    return response(_tlv(tag, value), SW.OK)


def arqc(*, card_key: bytes, transaction_data: bytes, atc: int) -> bytes:
    """The 8-byte application cryptogram: keyed BLAKE2b over the data and the ATC."""
    return hashlib.blake2b(
        transaction_data + atc.to_bytes(2, "big"), key=card_key, digest_size=8
    ).digest()


def _generate_ac(ctx: DeviceContext, se: dict[str, Any], cmd: CommandApdu) -> bytes:
    if cmd.p1 != 0x80 or cmd.p2 != 0x00:
        raise ApduError(SW.INCORRECT_P1P2)
    if len(cmd.data) != 12:
        raise ApduError(SW.WRONG_LENGTH)
    card = se["card"]
    if card is None or se["atc"] >= 0xFFFF:
        raise ApduError(SW.CONDITIONS_NOT_SATISFIED)
    cdcvm_until = ctx.state["pin"]["cdcvm_until"]
    if CDCVM_REQUIRED and (cdcvm_until is None or ctx.now_ts() > cdcvm_until):
        raise ApduError(SW.SECURITY_STATUS_NOT_SATISFIED)
    se["atc"] += 1
    ctx.state["pin"]["cdcvm_until"] = None  # one verification, one transaction
    cryptogram = arqc(card_key=card["card_key"], transaction_data=cmd.data, atc=se["atc"])
    body = (
        _tlv(0x9F27, b"\x80")
        + _tlv(0x9F36, se["atc"].to_bytes(2, "big"))
        + _tlv(0x9F26, cryptogram)
    )
    return response(_tlv(0x77, body), SW.OK)

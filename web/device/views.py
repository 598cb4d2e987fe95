"""Phone panel routes: each one is a tap on the emulated phone, done with `tee_sim.wallet`."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from tee_sim import Device, wallet
from web.device import device_bp
from web.device.phones import checked_device_id, device_store, publish_revocations
from web.device.profiles import PROFILE_NAMES, PROFILES
from web.errors import WebError
from web.flow.binding_step import b64, b64decode_field
from web.flow.card_step import issuer_keys
from web.json_body import json_object
from web.rate_limits import client_group, enforce_rate_limit


def _device(device_id: str) -> Device:
    return device_store().open(checked_device_id(device_id))


def _state(device: Device) -> dict[str, Any]:
    state = device.public_state()
    return {"device_id": device.device_id, "profile": state.get("profile"),
            "state": _json_safe(state)}


def _json_safe(value: object) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, bytes):
        return b64(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


@device_bp.get("/profiles")
def profiles() -> Response:
    return jsonify([{"name": p.name, "label": p.label} for p in PROFILES])


@device_bp.post("/phones")
def create_phone() -> tuple[Response, int]:
    enforce_rate_limit("phones", client_group())
    body = json_object()
    profile = body.get("profile", "genuine")
    if not isinstance(profile, str) or profile not in PROFILE_NAMES:
        raise WebError(422, "unknown_profile",
                       f"Choose one of: {', '.join(sorted(PROFILE_NAMES))}.")
    issuer_key = bytes(issuer_keys().verify_key)
    store = device_store()
    device_id = store.create(str(profile), issuer_public_key=issuer_key)
    publish_revocations(store)
    return jsonify(_state(store.open(device_id))), 201


@device_bp.get("/phones/<device_id>")
def phone(device_id: str) -> Response:
    return jsonify(_state(_device(device_id)))


@device_bp.post("/phones/<device_id>/bind")
def bind(device_id: str) -> Response:
    challenge = b64decode_field(json_object().get("challenge"), "challenge", max_bytes=128)
    keys = wallet.bind(_device(device_id), challenge=challenge)
    chains = {name: [b64(bytes(der)) for der in _der_list(key.get("chain"))]
              for name, key in keys.items()}
    return jsonify({"chains": chains})


def _der_list(value: object) -> list[bytes]:
    if not isinstance(value, list):
        return []
    return [v for v in value if isinstance(v, bytes)]


@device_bp.post("/phones/<device_id>/confirmation")
def present(device_id: str) -> Response:
    body = json_object(allow_empty=False)
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt:
        raise WebError(422, "validation_failed", "prompt must be a non-empty string")
    nonce = b64decode_field(body.get("nonce"), "nonce", max_bytes=64)
    wallet.present_prompt(_device(device_id), prompt=prompt, nonce=nonce)
    return jsonify({"screen": "prompt_shown"})


@device_bp.post("/phones/<device_id>/button")
def press_button(device_id: str) -> Response:
    _device(device_id).press_confirmation_button()
    return jsonify({"pressed": True})


@device_bp.post("/phones/<device_id>/confirmation/collect")
def collect(device_id: str) -> Response:
    signed = wallet.collect_confirmation(_device(device_id))
    return jsonify({"message": b64(signed.message), "signature": b64(signed.signature)})


@device_bp.post("/phones/<device_id>/channel")
def open_channel(device_id: str) -> Response:
    hello = b64decode_field(json_object(allow_empty=False).get("hello"), "hello", max_bytes=256)
    wallet.open_channel(_device(device_id), hello=hello)
    return jsonify({"channel": "open"})


@device_bp.post("/phones/<device_id>/se-challenge")
def se_challenge(device_id: str) -> Response:
    return jsonify({"challenge": b64(wallet.se_challenge(_device(device_id)))})


@device_bp.post("/phones/<device_id>/provisioning")
def provisioning(device_id: str) -> Response:
    record = b64decode_field(json_object(allow_empty=False).get("record"), "record",
                             max_bytes=8192)
    delivered = wallet.receive_provisioning(_device(device_id), record=record)
    response = delivered.get("response")
    status_word = delivered.get("sw")
    return jsonify({"record": b64(response) if isinstance(response, bytes) else None,
                    "sw": f"{status_word:04X}" if isinstance(status_word, int) else None})


@device_bp.post("/phones/<device_id>/pin")
def set_pin(device_id: str) -> Response:
    pin = json_object(allow_empty=False).get("pin")
    if not isinstance(pin, str):
        raise WebError(422, "validation_failed", "pin must be a string of 4 to 6 digits")
    wallet.set_pin(_device(device_id), pin=pin)
    return jsonify({"pin_set": True})


@device_bp.get("/phones/<device_id>/card")
def card(device_id: str) -> Response:
    return jsonify(wallet.card_summary(_device(device_id)))

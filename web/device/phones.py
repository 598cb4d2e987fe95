"""The emulated phones and their manufacturer, opened through tee_sim's public API."""

from __future__ import annotations

import re
from pathlib import Path

from flask import current_app

from tee_sim import DeviceStore
from web.errors import WebError

_DEVICE_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def ensure_manufacturer(device_dir: Path) -> None:
    """Create the manufacturer PKI on first run and export its trust anchors and revocation
    list into the device dir, where the issuer loads them from."""
    DeviceStore(device_dir).manufacturer.export(device_dir)


def publish_revocations(store: DeviceStore) -> None:
    """Re-export after manufacturing: a `revoked` phone adds its serial to the list."""
    store.manufacturer.export(store.directory)


def device_store() -> DeviceStore:
    """The store of emulated phones under `CARDSIM_DEVICE_DIR`."""
    return DeviceStore(Path(current_app.config["CARDSIM_DEVICE_DIR"]))


def checked_device_id(raw: object) -> str:
    """A syntactically valid device id, or a 404 (never a path outside the store)."""
    if not isinstance(raw, str) or not _DEVICE_ID.match(raw):
        raise WebError(404, "device_not_found", "There is no phone with this id.")
    return raw

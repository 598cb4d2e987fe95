"""Issuer secret keys, kept in a key file outside the database (mode 0600, made on first run)."""

from __future__ import annotations

import base64
import json
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

import nacl.secret
import nacl.signing

from issuer.clock import RandomBytes, system_random
from issuer.errors import KeyFileError
from issuer.regular_files import FileUnreadable, NotRegularFile, read_regular_file

DEFAULT_KEY_FILE = "instance/issuer-keys.json"
KEY_FILE_VERSION = 1
MAX_KEY_FILE_BYTES = 64 * 1024  # a real key file is about 300 bytes


def key_file_from_env() -> Path:
    """`CARDSIM_KEY_FILE` from the environment, or instance/issuer-keys.json."""
    return Path(os.environ.get("CARDSIM_KEY_FILE", "").strip() or DEFAULT_KEY_FILE)


def _fsync_directory(directory: Path) -> None:
    """Make a new directory entry durable (best effort: not every file system allows it)."""
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@dataclass(frozen=True, repr=False)
class IssuerKeys:
    """KEK for the PAN vault, PAN lookup HMAC key, CVK pair, issuer Ed25519 signing key."""

    kek: bytes
    pan_hmac_key: bytes
    cvk_a: bytes
    cvk_b: bytes
    signing_seed: bytes

    def __post_init__(self) -> None:
        sizes = {"kek": (self.kek, nacl.secret.SecretBox.KEY_SIZE), "pan_hmac_key":
                 (self.pan_hmac_key, 32), "cvk_a": (self.cvk_a, 8), "cvk_b": (self.cvk_b, 8),
                 "signing_seed": (self.signing_seed, 32)}
        for name, (value, size) in sizes.items():
            if len(value) != size:
                raise KeyFileError(f"issuer key {name} must be {size} bytes, got {len(value)}")
        if self.cvk_a == self.cvk_b:
            raise KeyFileError("CVK-A and CVK-B must differ")

    def __repr__(self) -> str:
        return "IssuerKeys(<secret>)"

    @property
    def signing_key(self) -> nacl.signing.SigningKey:
        """The issuer's Ed25519 signing key."""
        return nacl.signing.SigningKey(self.signing_seed)

    @property
    def verify_key(self) -> nacl.signing.VerifyKey:
        """The public half of the issuer signing key."""
        return self.signing_key.verify_key

    @classmethod
    def generate(cls, *, rng: RandomBytes = system_random) -> IssuerKeys:
        """Fresh random keys."""
        cvk_a = rng(8)
        cvk_b = rng(8)
        while cvk_b == cvk_a:
            cvk_b = rng(8)
        return cls(kek=rng(32), pan_hmac_key=rng(32), cvk_a=cvk_a, cvk_b=cvk_b,
                   signing_seed=rng(32))

    def to_json(self) -> str:
        """Serialise for the key file."""
        def b64(value: bytes) -> str:
            return base64.b64encode(value).decode("ascii")

        return json.dumps({
            "version": KEY_FILE_VERSION,
            "kek": b64(self.kek),
            "pan_hmac_key": b64(self.pan_hmac_key),
            "cvk_a": self.cvk_a.hex().upper(),
            "cvk_b": self.cvk_b.hex().upper(),
            "signing_seed": b64(self.signing_seed),
        }, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> IssuerKeys:
        """Parse the key file contents; raise `KeyFileError` on anything malformed."""
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or data.get("version") != KEY_FILE_VERSION:
                raise KeyFileError(f"issuer key file must be a version {KEY_FILE_VERSION} object")
            return cls(
                kek=base64.b64decode(data["kek"], validate=True),
                pan_hmac_key=base64.b64decode(data["pan_hmac_key"], validate=True),
                cvk_a=bytes.fromhex(data["cvk_a"]),
                cvk_b=bytes.fromhex(data["cvk_b"]),
                signing_seed=base64.b64decode(data["signing_seed"], validate=True),
            )
        except KeyFileError:
            raise
        except (ValueError, KeyError, TypeError) as exc:
            raise KeyFileError(f"issuer key file is malformed: {type(exc).__name__}") from None

    @classmethod
    def load_or_create(cls, path: Path, *, rng: RandomBytes = system_random) -> IssuerKeys:
        """Load the key file, creating it (mode 0600, parent 0700) if it does not exist.

        A file readable or writable by group or others is refused rather than trusted.
        """
        try:
            return cls._load(path)
        except FileNotFoundError:
            pass
        keys = cls.generate(rng=rng)
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise KeyFileError(f"cannot create the directory of issuer key file {path}: "
                               f"{exc.strerror}") from None
        # Written in full under a private temporary name, then hard-linked into place: the
        # link is atomic and never replaces an existing file, so a process starting at the same
        # moment sees either no key file or a complete one, never an empty or half-written one.
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        except OSError as exc:
            raise KeyFileError(f"cannot create issuer key file {path}: {exc.strerror}"
                               ) from None
        try:
            try:
                with os.fdopen(fd, "w", encoding="ascii") as handle:
                    handle.write(keys.to_json())
                    handle.flush()
                    os.fsync(handle.fileno())
            except OSError as exc:
                raise KeyFileError(f"cannot write issuer key file {path}: {exc.strerror}"
                                   ) from None
            try:
                os.link(temporary, path, follow_symlinks=False)
            except FileExistsError:
                return cls._load_existing(path)  # another process created it first
            except OSError as exc:
                raise KeyFileError(f"cannot create issuer key file {path}: {exc.strerror}"
                                   ) from None
        finally:
            temporary.unlink(missing_ok=True)  # never leave a stray copy of the keys behind
        _fsync_directory(path.parent)
        return keys

    @classmethod
    def _load_existing(cls, path: Path) -> IssuerKeys:
        """Load a key file known to exist; a dangling symbolic link is named as such."""
        try:
            return cls._load(path)
        except FileNotFoundError:
            raise KeyFileError(f"issuer key file {path} is a symbolic link to a missing file"
                               ) from None

    @classmethod
    def for_database(cls, path: Path, *, database_has_data: bool) -> IssuerKeys:
        """The keys of a database: loaded, or created only while the database holds nothing
        encrypted (`KeyFileError` otherwise: new keys could never open what is stored)."""
        if database_has_data:
            try:
                return cls.load(path)
            except KeyFileError as exc:
                raise KeyFileError(f"{exc.message}; the database already holds data encrypted "
                                   "under its issuer keys, so new ones are not created") from None
        return cls.load_or_create(path)

    @classmethod
    def load(cls, path: Path) -> IssuerKeys:
        """Load an existing key file; `KeyFileError` when it is missing (never creates one)."""
        try:
            return cls._load(path)
        except FileNotFoundError:
            raise KeyFileError(f"issuer key file {path} does not exist "
                               "(set CARDSIM_KEY_FILE)") from None

    @classmethod
    def _load(cls, path: Path) -> IssuerKeys:
        """Read the key file; `FileNotFoundError` when absent, `KeyFileError` otherwise."""

        def private_only(mode: int) -> None:
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise KeyFileError(
                    f"issuer key file {path} is accessible by group/others "
                    f"(mode {stat.S_IMODE(mode):o}); run chmod 600"
                )

        try:
            data = read_regular_file(path, limit=MAX_KEY_FILE_BYTES, check_mode=private_only)
        except NotRegularFile as exc:
            raise KeyFileError(f"issuer key file {path} is {exc.kind}") from None
        except FileUnreadable as exc:
            raise KeyFileError(f"cannot read issuer key file {path}: {exc.reason}") from None
        if len(data) > MAX_KEY_FILE_BYTES:
            raise KeyFileError(f"issuer key file {path} is malformed: too large")
        try:
            text = data.decode("ascii")
        except UnicodeDecodeError:
            raise KeyFileError("issuer key file is malformed: not ASCII") from None
        return cls.from_json(text)

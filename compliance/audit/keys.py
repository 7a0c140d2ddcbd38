"""The audit chain's HMAC keys: read from files the database never sees.

``AUDIT_HMAC_KEY_FILE`` holds the current key (new events are hashed with it);
``AUDIT_HMAC_RETIRED_KEY_FILES`` the keys of earlier events, kept to verify them after a
rotation. Each event names its key by ``key_id``, a fingerprint of the key (not a
secret: recovering a 256-bit key from its sha256 is not feasible). Where
``AUDIT_HMAC_KEY_AUTOCREATE`` is on (local and demo settings, never production) a
missing key file is created with a fresh random key.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

MIN_KEY_BYTES = 32


@dataclass(frozen=True)
class AuditKeys:
    current_id: str
    by_id: dict[str, bytes]

    @property
    def current(self) -> bytes:
        return self.by_id[self.current_id]


def key_id_of(key: bytes) -> str:
    return hashlib.sha256(b"inspectoscope audit key id\0" + key).hexdigest()[:16]


def _read_key(path: Path) -> bytes:
    key = path.read_bytes().strip()
    if len(key) < MIN_KEY_BYTES:
        raise ImproperlyConfigured(
            f"The audit HMAC key in {path} is shorter than {MIN_KEY_BYTES} bytes."
        )
    return key


def _create_key(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(32) + "\n")


@lru_cache(maxsize=1)
def _keys(current_file: str, retired_files: tuple[str, ...], create: bool) -> AuditKeys:
    if not current_file:
        raise ImproperlyConfigured("AUDIT_HMAC_KEY_FILE is required.")
    current_path = Path(current_file)
    if not current_path.exists():
        if not create:
            raise ImproperlyConfigured(
                f"The audit HMAC key file {current_path} does not exist."
            )
        _create_key(current_path)
    current = _read_key(current_path)
    by_id = {key_id_of(key): key for key in map(_read_key, map(Path, retired_files))}
    by_id[key_id_of(current)] = current
    return AuditKeys(current_id=key_id_of(current), by_id=by_id)


def audit_keys() -> AuditKeys:
    """The configured keys (read once per process and settings)."""
    return _keys(
        str(settings.AUDIT_HMAC_KEY_FILE or ""),
        tuple(str(p) for p in settings.AUDIT_HMAC_RETIRED_KEY_FILES),
        bool(settings.AUDIT_HMAC_KEY_AUTOCREATE),
    )

"""The key that signs the audit trail, kept outside the database.

Without a key anyone who can write the database file could rewrite an entry and recompute every
hash after it. With one (HMAC-SHA256), rewriting needs the key as well, and the key lives in
`SPINE_CDS_AUDIT_KEY` or in a file readable by its owner only.

Where the key comes from, in order: `SPINE_CDS_AUDIT_KEY` (hex or base64); the file
`SPINE_CDS_AUDIT_KEY_FILE`; `spine-cds.audit-key` beside the default database. A missing key file
is created on first use only where no other process can need a different one: a SQLite store
(one machine, and the file is found the same way by every process of this user) whose trail has
no keyed entry yet. A database server (PostgreSQL) is written by processes on other machines, so
its key must be configured; the store refuses to guess one.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from decision.settings import Settings, env_name
from decision.store.errors import AuditKeyError

KEY_BYTES = 32
MIN_KEY_BYTES = 32
KEY_FILE_NAME = "spine-cds.audit-key"
KEY_ID_LABEL = b"spine-cds audit key id"


@dataclass(frozen=True)
class AuditKey:
    """The secret and a short public id of it (written with the trail, so a wrong key is named
    as such rather than reported as tampering)."""

    secret: bytes
    origin: str
    """Where it came from, for messages: the variable or the file (never the key)."""

    @property
    def key_id(self) -> str:
        return hmac.new(self.secret, KEY_ID_LABEL, hashlib.sha256).hexdigest()[:16]


def default_key_file() -> Path:
    """`spine-cds.audit-key` beside the default database (the user's data folder)."""
    return default_sqlite_path().parent / KEY_FILE_NAME


def default_sqlite_path() -> Path:
    default_url = str(Settings.model_fields["database_url"].get_default(call_default_factory=True))
    return Path(default_url.removeprefix("sqlite:///"))


def resolve_audit_key(settings: Settings, url: str, trail_key_id: str | None, *, may_create: bool) -> AuditKey:
    """The audit key for the store at `url`, from the settings; created only when `may_create`,
    the store is SQLite and its trail (`trail_key_id`: the id of the key it was written with, None
    when it has no keyed entry) has no keyed entry yet."""
    if settings.audit_key is not None:
        return AuditKey(_decode(settings.audit_key.get_secret_value(), env_name("audit_key")), env_name("audit_key"))
    configured = settings.audit_key_file is not None
    path = Path(settings.audit_key_file) if settings.audit_key_file is not None else default_key_file()
    if path.exists():
        return _read_key_file(path)
    how = (
        f"set {env_name('audit_key')} to the key (64 hex characters, e.g. from "
        f"`python -c 'import secrets; print(secrets.token_hex(32))'`) or {env_name('audit_key_file')} to a file "
        "holding it (mode 0600), the same for every process that writes this database"
    )
    if trail_key_id is not None:
        raise AuditKeyError(
            [
                f"audit key: {path} does not exist and {env_name('audit_key')} is unset, but the audit trail is "
                f"signed with key {trail_key_id}; point {env_name('audit_key_file')} at that key file or "
                f"{env_name('audit_key')} at its value (a new key could not verify the trail)"
            ]
        )
    if not url.startswith("sqlite:"):
        raise AuditKeyError(
            [
                f"audit key: a database server is written by processes that do not share a key file; {how}"
                + ("" if configured else f" ({path} is only this user's default, used for SQLite stores)")
            ]
        )
    if not may_create:
        raise AuditKeyError([f"audit key: {path} does not exist and {env_name('audit_key')} is unset; {how}"])
    return _create_key_file(path)


def _decode(text: str, where: str) -> bytes:
    value = text.strip()
    try:
        secret = bytes.fromhex(value)
    except ValueError:
        try:
            secret = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise AuditKeyError([f"{where}: expected hex or base64 (the value is not shown)"]) from None
    if len(secret) < MIN_KEY_BYTES:
        raise AuditKeyError([f"{where}: expected at least {MIN_KEY_BYTES} bytes, got {len(secret)}"])
    return secret


def _read_key_file(path: Path) -> AuditKey:
    if os.name == "posix" and path.stat().st_mode & 0o077:
        raise AuditKeyError([f"audit key file {path}: readable or writable by others; `chmod 600 {path}`"])
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise AuditKeyError([f"audit key file {path}: cannot be read ({type(exc).__name__})"]) from None
    return AuditKey(_decode(text, f"audit key file {path}"), str(path))


def _create_key_file(path: Path) -> AuditKey:
    """A new key, written whole before it appears under its name (`link` fails if another process
    created it first, and then that process's key is the one used)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{secrets.token_hex(6)}")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(secrets.token_hex(KEY_BYTES) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
    finally:
        draft.unlink(missing_ok=True)
    return _read_key_file(path)

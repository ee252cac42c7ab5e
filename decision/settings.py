"""Every setting of the app, the service and the command line, read once from the environment.

Each field is `SPINE_CDS_<FIELD>` (SPINE_CDS_DATABASE_URL, SPINE_CDS_SERVICE_PORT, ...); an empty
variable counts as unset. Command-line flags are given as keyword arguments and win over the
environment. A bad value is refused as a `SettingsError`, one line per setting naming the variable,
never quoting the value (a database URL may carry a password).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from knowledge.problems import ProblemError, validation_problems

ENV_PREFIX = "SPINE_CDS_"
DATABASE_FILE = "spine-cds.sqlite"


def data_folder() -> Path:
    """The user's own data folder for spine-cds, never the installed package (which may be read-only and
    shared): `$XDG_DATA_HOME/spine-cds`, else `~/.local/share/spine-cds` (the XDG Base Directory
    default; on Windows `%LOCALAPPDATA%/spine-cds`)."""
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "spine-cds"
    xdg = os.environ.get("XDG_DATA_HOME", "")
    base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".local" / "share"  # XDG: a relative value is ignored
    return base / "spine-cds"


def default_database() -> Path:
    """`spine-cds.sqlite` in the data folder, which is created on first use readable by its owner only
    (mode 0700: the store holds clinical cases)."""
    folder = data_folder()
    if not folder.is_dir():
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder / DATABASE_FILE


def default_database_url() -> str:
    """The embedded database: the only one `spine-cds ui --demo` seeds with demo cases."""
    return f"sqlite:///{default_database()}"


class Settings(BaseSettings):
    """The settings a site may change, with their environment variables and defaults."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_ignore_empty=True, frozen=True)

    database_url: str = Field(
        default_factory=default_database_url,
        min_length=1,
        description="SQLAlchemy URL of the case store (cases, decisions, audit trail), shared by the app "
        "and the service; PostgreSQL for a shared MDT. Unset: `spine-cds.sqlite` in the user's data folder.",
    )
    debug: bool = Field(default=False, description="Print the traceback of an internal error (command line).")
    ui_url: str = Field(
        default="http://localhost:8501",
        pattern=r"^https?://\S+$",
        description="The spine-cds app that CDS Hooks cards link to (`/?case=<id>`).",
    )
    service_host: str = Field(default="127.0.0.1", min_length=1, description="Address `spine-cds serve` listens on.")
    service_port: int = Field(default=8080, ge=1, le=65535, description="Port `spine-cds serve` listens on.")
    service_policy: str | None = Field(
        default=None,
        description="Policy profile (clinic, nice, cms) for every CDS Hooks call; unset: the knowledge's default.",
    )
    service_trust: tuple[str, ...] = Field(
        default=(),
        description="The CDS clients (EHRs) trusted, each `ISSUER=JWKS[,fhir=BASE][,private-network]`: the JWT "
        "issuer, its JWK Set (an https URL or a file) and the FHIR base its fhirServer must be (JSON list in "
        "the environment).",
    )
    service_trust_file: Path | None = Field(
        default=None, description="A YAML file of trusted CDS clients (`trusted_clients:` issuer, jwks, fhir)."
    )
    service_allow_unauthenticated: bool = Field(
        default=False,
        description="Answer CDS Hooks calls without a JWT: a local demo only, never a deployment.",
    )
    service_allow_origins: tuple[str, ...] = Field(
        default=(), description="Web origins allowed to call the service from a browser (CORS); none: CORS off."
    )
    service_url: str | None = Field(
        default=None,
        pattern=r"^https?://\S+$",
        description="The service's public base URL, as the EHR calls it (a JWT's `aud` is this plus the path); "
        "unset: the URL of the request as received.",
    )
    audit_key: SecretStr | None = Field(
        default=None,
        description="The key that signs the audit trail (at least 32 bytes as hex or base64), kept outside the "
        "database; every process that writes one database needs the same key.",
    )
    audit_key_file: Path | None = Field(
        default=None,
        description="File holding the audit key when SPINE_CDS_AUDIT_KEY is unset; unset: `spine-cds.audit-key` "
        "beside the default database, created (mode 0600) on first use of a SQLite store.",
    )


class SettingsError(ProblemError):
    """A setting with a value that cannot be used; each problem names its environment variable."""

    title = "invalid settings"


def env_name(field: str) -> str:
    return f"{ENV_PREFIX}{field.upper()}"


def load_settings(**given: Any) -> Settings:
    """The settings from the environment, with `given` values (command-line flags; None: not given)
    over them; a bad value, wherever it came from, is a SettingsError."""
    overrides = {name: value for name, value in given.items() if value is not None}
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError(settings_problems(exc, given=set(overrides))) from None


def settings_problems(error: ValidationError, given: set[str] | None = None) -> list[str]:
    """One line per bad setting, named by its environment variable (by its field when it was given)."""
    lines = []
    for line in validation_problems(error, echo_values=False, whole="(settings)"):
        field, _, message = line.partition(": ")
        named = field if field in (given or set()) or field not in Settings.model_fields else env_name(field)
        lines.append(f"{named}: {message}")
    return lines

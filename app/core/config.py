"""One Settings class for the whole app; environment variables with the PARLEY_ prefix."""

import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PARLEY_", env_file=None, extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path("./data")
    database_url: str | None = None
    public_url: str = "http://127.0.0.1:8000"

    # Tokens. Secrets default to files generated in data_dir on first start (see ensure_secrets).
    jwt_secret: str | None = None
    jwt_issuer: str = "parley"
    jwt_audience: str = "parley-app"
    access_token_minutes: int = Field(15, ge=1, le=120)
    session_idle_hours: float = Field(12, gt=0)
    session_max_hours: float = Field(24 * 7, gt=0)

    # Login throttling: progressive delay, then 429, per account and per client address.
    login_window_minutes: int = 15
    login_delay_after: int = 3
    login_block_after: int = 10
    login_max_delay_seconds: float = 4.0
    password_hash_threads: int = Field(2, ge=1, le=16)

    max_body_bytes: int = 1024 * 1024
    max_upload_bytes: int = 10 * 1024 * 1024
    # requests holding a database session at once, per process (default: 4 on SQLite, whose writes queue anyway;
    # on PostgreSQL twice the CPU cores, at most 32: below the 40 worker threads and the 40 pooled connections)
    db_request_slots: int | None = Field(None, ge=1, le=35)
    run_background: bool = True  # the push dispatcher and audit checkpoints inside `parley serve`
    log_level: str = "INFO"
    log_json: bool = True

    # Push (issue: notifications)
    vapid_private_key: str | None = None
    vapid_subject: str = "mailto:parley-ops@example.invalid"
    push_allowed_hosts: str = ""
    push_allow_http: bool = False

    # Briefing and debrief: commendations and appraisals stay open this long after an operation closes
    debrief_window_days: int = Field(28, ge=0, le=3650)
    chromium_path: Path = Path("/usr/bin/chromium")  # prints the debrief to PDF

    # Audit signing (issue: audit export)
    audit_signing_key: str | None = None
    audit_checkpoint_dir: Path | None = None
    audit_checkpoint_seconds: int = 60

    @model_validator(mode="after")
    def _production_rules(self) -> "Settings":
        if self.env == "production":
            missing = [
                name
                for name in ("database_url", "jwt_secret", "vapid_private_key", "audit_signing_key")
                if not getattr(self, name)
            ]
            if missing:
                names = ", ".join("PARLEY_" + n.upper() for n in missing)
                raise ValueError(f"production needs these secrets configured: {names}")
            if self.jwt_secret and len(self.jwt_secret) < 32:
                raise ValueError("PARLEY_JWT_SECRET must be at least 32 characters")
            if self.push_allow_http:
                raise ValueError("PARLEY_PUSH_ALLOW_HTTP is refused in production")
        return self

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'parley.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")


def read_or_create_secret(settings: Settings, filename: str, make: "callable[[], str]") -> str:
    """A secret kept in data_dir with 0600 permissions, created on first use."""
    path = settings.data_dir / filename
    if path.exists():
        return path.read_text().strip()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    value = make()
    # Written whole under a private name, then linked into place: several app processes starting at once
    # agree on one secret, and none reads a half-written file.
    draft = settings.data_dir / f".{filename}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(value + "\n")
        os.link(draft, path)
    except FileExistsError:
        return path.read_text().strip()  # another process was first: use its secret
    finally:
        draft.unlink(missing_ok=True)
    return value


def jwt_secret(settings: Settings) -> str:
    if settings.jwt_secret:
        return settings.jwt_secret
    path = settings.data_dir / "jwt.key"
    try:
        stamp = path.stat().st_mtime_ns  # every request asks: read the file again only when it changes
    except FileNotFoundError:
        return read_or_create_secret(settings, "jwt.key", lambda: secrets.token_urlsafe(48))
    key = (str(path), stamp)
    if key not in _file_secrets:
        _file_secrets.clear()
        _file_secrets[key] = read_or_create_secret(settings, "jwt.key", lambda: secrets.token_urlsafe(48))
    return _file_secrets[key]


_file_secrets: dict[tuple[str, int], str] = {}


def project_path(name: str) -> Path:
    """`migrations/` or `frontend/`: beside the source tree (editable install), else in the working directory
    (the Docker image installs the package as a wheel and copies these into /app)."""
    beside_source = Path(__file__).resolve().parents[2] / name
    return beside_source if beside_source.is_dir() else Path.cwd() / name


@lru_cache
def get_settings() -> Settings:
    return Settings()

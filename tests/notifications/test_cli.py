"""`parley vapid public-key`, `parley vapid rotate`, `parley worker` on SQLite."""

import os
import stat

from typer.testing import CliRunner

from app.cli import cli
from app.notifications.vapid import public_key_b64

runner = CliRunner()


def test_public_key_prints_the_application_server_key(settings):
    result = runner.invoke(cli, ["vapid", "public-key"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == public_key_b64(settings)


def test_rotate_makes_a_new_0600_key_and_keeps_the_old_one(settings):
    before = public_key_b64(settings)
    result = runner.invoke(cli, ["vapid", "rotate"])
    assert result.exit_code == 0, result.output
    after = public_key_b64(settings)
    assert after != before and after in result.output
    assert "Restart" in result.output and "re-subscribe" in result.output
    assert stat.S_IMODE(os.stat(settings.data_dir / "vapid.key").st_mode) == 0o600
    kept = list(settings.data_dir.glob("vapid.key.*.old"))
    assert len(kept) == 1 and stat.S_IMODE(os.stat(kept[0]).st_mode) == 0o600


def test_rotate_refuses_a_configured_key(settings, monkeypatch):
    from app.core.config import get_settings

    monkeypatch.setenv("PARLEY_VAPID_PRIVATE_KEY", "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI")
    get_settings.cache_clear()
    result = runner.invoke(cli, ["vapid", "rotate"])
    assert result.exit_code == 2 and "PARLEY_VAPID_PRIVATE_KEY" in result.output


def test_worker_refuses_sqlite(settings):
    if not settings.is_sqlite:
        return
    result = runner.invoke(cli, ["worker", "--once"])
    assert result.exit_code == 2 and "PostgreSQL" in result.output

"""How ``prbot serve``'s settings read the files ``prbot setup`` writes: their place, their
precedence under the environment, and the refusals that name the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from prbot.automation.limits import LIMITS
from prbot.settings import ConfigError, core_limits, load_settings, setting, setup_file
from prbot.setup.credentials import SetupError, render, write_private
from tests.support.forge import app_keypair


def _app_file(folder: Path, **values: str) -> Path:
    values = {
        "APP_ID": "77",
        "PRIVATE_KEY": app_keypair()[0],
        "WEBHOOK_SECRET": "file-secret-123",
        **values,
    }
    path = folder / "github-app.yaml"
    write_private(path, render(values, "test"), force=True)
    return path


def test_the_app_file_in_the_data_dir_is_read_and_the_environment_wins(tmp_path: Path) -> None:
    _app_file(tmp_path)
    settings = load_settings({"PRBOT_DATA_DIR": str(tmp_path)})
    assert settings.app_id == 77 and settings.private_key is not None
    assert [s.reveal() for s in settings.webhook_secrets] == ["file-secret-123"]
    # variable by variable: the environment's webhook secret wins over the file's
    rotated = load_settings({"PRBOT_DATA_DIR": str(tmp_path), "WEBHOOK_SECRET": "env-secret-1"})
    assert rotated.app_id == 77
    assert [s.reveal() for s in rotated.webhook_secrets] == ["env-secret-1"]


def test_the_app_file_is_ignored_when_another_app_or_token_is_configured(tmp_path: Path) -> None:
    _app_file(tmp_path)
    env = {"PRBOT_DATA_DIR": str(tmp_path), "GITHUB_TOKEN": "t", "WEBHOOK_SECRET": "env-secret-1"}
    settings = load_settings(env)
    assert settings.app_id is None and settings.private_key is None


def test_a_file_open_to_others_or_with_other_keys_is_refused_by_name(tmp_path: Path) -> None:
    path = _app_file(tmp_path)
    path.chmod(0o644)
    with pytest.raises(ConfigError) as caught:
        load_settings({"PRBOT_DATA_DIR": str(tmp_path)})
    assert caught.value.problems == [
        f"PRBOT_GITHUB_APP_FILE ({path}): holds secrets but is open to others (mode 0644): "
        f"chmod 600 {path}"
    ]
    path.chmod(0o600)
    path.write_text(path.read_text() + "GITLAB_TOKEN: x\n")
    with pytest.raises(ConfigError, match=r"GITLAB_TOKEN: not allowed here"):
        load_settings({"PRBOT_DATA_DIR": str(tmp_path)})
    named = tmp_path / "elsewhere.yaml"
    with pytest.raises(ConfigError, match=r"PRBOT_GITHUB_APP_FILE \(.*elsewhere.yaml\): no such"):
        load_settings({"PRBOT_GITHUB_APP_FILE": str(named), "WEBHOOK_SECRET": "env-secret-1"})


def test_the_gitlab_file_gives_the_webhook_secret(tmp_path: Path) -> None:
    path = tmp_path / "gl.yaml"
    write_private(
        path,
        render(
            {"GITLAB_URL": "http://127.0.0.1:9", "GITLAB_WEBHOOK_SECRET": "gl-secret-1234"}, "t"
        ),
        force=False,
    )
    settings = load_settings({"PRBOT_GITLAB_FILE": str(path)})
    assert settings.gitlab_url == "http://127.0.0.1:9"
    assert [s.reveal() for s in settings.gitlab_webhook_secrets] == ["gl-secret-1234"]


def test_write_private_is_owner_only_and_keeps_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "f.yaml"
    write_private(path, "A: 1\n", force=False)
    assert path.stat().st_mode & 0o777 == 0o600 and path.parent.is_dir()
    with pytest.raises(SetupError, match="exists: pass --force"):
        write_private(path, "A: 2\n", force=False)
    assert path.read_text() == "A: 1\n"
    write_private(path, "A: 2\n", force=True)
    assert path.read_text() == "A: 2\n" and path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["f.yaml"]  # no temporary file left


def test_only_serve_reads_the_setup_files_the_other_tools_do_not_trip_on_them(
    tmp_path: Path,
) -> None:
    path = _app_file(tmp_path)
    path.chmod(0o644)  # refused by serve (above), but validate and render never read it
    env = {"PRBOT_DATA_DIR": str(tmp_path)}
    assert core_limits(env) == LIMITS
    assert setting("PRBOT_SANDBOX_SECONDS", env) == 10
    assert setting("APP_ID", env) is None
    assert setup_file("PRBOT_GITHUB_APP_FILE", env) == path
    assert setup_file("PRBOT_GITHUB_APP_FILE", {"PRBOT_GITHUB_APP_FILE": "~/app.yaml"}) == (
        Path.home() / "app.yaml"
    )

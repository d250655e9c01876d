"""Settings: defaults, each misconfiguration naming its variable, secrets, rotation,
private key forms, the clock file, the config file (YAML/TOML, env wins) and the --help
table."""

from __future__ import annotations

import base64
import dataclasses
import functools
from pathlib import Path

import pytest

from prbot.settings import VARIABLES, ConfigError, Secret, Settings, help_table, load_settings

BASE = {"WEBHOOK_SECRET": "gh-secret-value"}


@functools.cache
def pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


def problems(env: dict[str, str], **kw: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_settings(env, **kw)
    return caught.value.problems


def test_defaults() -> None:
    s = load_settings(BASE)
    assert (s.host, s.port, s.workers, s.max_attempts) == ("0.0.0.0", 3000, 16, 8)
    assert s.database_url == "sqlite:.prbot-data/prbot.db"
    assert s.max_body_bytes == 25 * 1024 * 1024
    assert s.automations_dir == Path("automations")
    assert (s.serves_github, s.serves_gitlab) == (True, False)
    assert s.github_api_url == "https://api.github.com"
    assert s.api_token is None


def test_values_are_parsed(tmp_path: Path) -> None:
    s = load_settings(
        {
            **BASE,
            "PORT": "8080",
            "PRBOT_WORKERS": "24",
            "PRBOT_LEASE_SECONDS": "2.5",
            "PRBOT_RECONCILE_SECONDS": "0",
            "PRBOT_DATA_DIR": str(tmp_path),
            "GHE_HOST": "github.example.com",
            "LOG_LEVEL": "WARN",
            "LOG_FORMAT": "pretty",
            "GITLAB_URL": "https://gitlab.example.com/",
            "PRBOT_API_TOKEN": "tok",
        }
    )
    assert (s.port, s.workers, s.lease_seconds, s.reconcile_seconds) == (8080, 24, 2.5, 0.0)
    assert s.database_url == f"sqlite:{tmp_path / 'prbot.db'}"
    assert s.github_api_url == "https://github.example.com/api/v3"
    assert (s.log_level, s.log_format, s.gitlab_url) == (
        "warn",
        "text",
        "https://gitlab.example.com",
    )
    assert s.api_token == Secret("tok")


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"PRBOT_WORKERS": "four"}, "PRBOT_WORKERS"),
        ({"PRBOT_WORKERS": "-1"}, "PRBOT_WORKERS"),
        ({"PORT": "70000"}, "PORT"),
        ({"PORT": "http"}, "PORT"),
        ({"PRBOT_LEASE_SECONDS": "soon"}, "PRBOT_LEASE_SECONDS"),
        ({"PRBOT_MAX_ATTEMPTS": "1.5"}, "PRBOT_MAX_ATTEMPTS"),
        ({"PRBOT_RECONCILE_SECONDS": "-1"}, "PRBOT_RECONCILE_SECONDS"),
        ({"PRBOT_MAX_BODY_BYTES": "25MB"}, "PRBOT_MAX_BODY_BYTES"),
        ({"APP_ID": "abc"}, "APP_ID"),
        ({"APP_ID": "123"}, "APP_ID"),
        ({"APP_ID": "123", "PRIVATE_KEY_PATH": "/nonexistent/key.pem"}, "PRIVATE_KEY_PATH"),
        ({"APP_ID": "123", "PRIVATE_KEY": "not a key"}, "PRIVATE_KEY"),
        ({"APP_ID": "123", "PRIVATE_KEY_PATH": "/etc/hostname"}, "PRIVATE_KEY_PATH"),
        ({"LOG_LEVEL": "loud"}, "LOG_LEVEL"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT"),
        ({"GHE_HOST": "https://ghe.example.com/"}, "GHE_HOST"),
        ({"GHE_PROTOCOL": "ftp"}, "GHE_PROTOCOL"),
        ({"GITLAB_URL": "gitlab.example.com"}, "GITLAB_URL"),
        ({"PRBOT_DATABASE_URL": "mysql://db/prbot"}, "PRBOT_DATABASE_URL"),
        ({"PRBOT_AUTOMATIONS_DIR": "/nonexistent/automations"}, "PRBOT_AUTOMATIONS_DIR"),
        ({"PRBOT_CLOCK_FILE": "/nonexistent/clock"}, "PRBOT_CLOCK_FILE"),
        (
            {
                "WEBHOOK_SECRET": "",
                "GITLAB_WEBHOOK_SECRET": "gl-secret-1",
                "WEBHOOK_SECRET_PREVIOUS": "old-secret",
            },
            "WEBHOOK_SECRET_PREVIOUS",
        ),
        ({"WEBHOOK_SECRET": ""}, "WEBHOOK_SECRET"),
        ({"WEBHOOK_SECRET": "   "}, "WEBHOOK_SECRET"),
        ({"WEBHOOK_SECRET": "x"}, "WEBHOOK_SECRET"),
        ({"WEBHOOK_SECRET": "long-enough-secret 1234567"}, "WEBHOOK_SECRET"),
        ({"WEBHOOK_SECRET_PREVIOUS": "old"}, "WEBHOOK_SECRET_PREVIOUS"),
        ({"GITLAB_WEBHOOK_SECRET": "gl"}, "GITLAB_WEBHOOK_SECRET"),
        (
            {"GITLAB_WEBHOOK_SECRET": "gl-secret-1", "GITLAB_WEBHOOK_SECRET_PREVIOUS": "gl-old"},
            "GITLAB_WEBHOOK_SECRET_PREVIOUS",
        ),
    ],
)
def test_each_misconfiguration_names_its_variable(env: dict[str, str], variable: str) -> None:
    found = problems({**BASE, **env})
    assert found and all(p.startswith(f"{variable}: ") for p in found), found


def test_private_key_without_app_id() -> None:
    [problem] = problems({**BASE, "PRIVATE_KEY": pem()})
    assert problem.startswith("APP_ID: ")
    assert "BEGIN" not in problem  # the key is never echoed


def test_every_problem_is_reported_at_once() -> None:
    found = problems({"PORT": "x", "PRBOT_WORKERS": "-1", "LOG_FORMAT": "xml"})
    # each variable in the table's order, then what needs several of them
    assert [p.split(":")[0] for p in found] == [
        "LOG_FORMAT",
        "PORT",
        "PRBOT_WORKERS",
        "WEBHOOK_SECRET",
    ]


def test_no_secret_message_says_what_to_set() -> None:
    [problem] = problems({})
    assert "WEBHOOK_SECRET" in problem and "GITLAB_WEBHOOK_SECRET" in problem


def test_scm_credentials_without_webhook_secret_is_fine() -> None:
    s = load_settings({**BASE, "GITLAB_TOKEN": "glpat-xxxxxxxxxxxxxxxxxxxx"})
    assert s.gitlab_token is not None and not s.serves_gitlab


def test_database_url_password_is_not_shown() -> None:
    url = "postgresql://prbot:hunter2pw@db/prbot?pool_size=many"  # refused: pool_size
    [problem] = problems({**BASE, "PRBOT_DATABASE_URL": url})
    assert problem.startswith("PRBOT_DATABASE_URL: ") and "hunter2pw" not in problem


def test_rotation_secrets() -> None:
    s = load_settings(
        {
            "WEBHOOK_SECRET": "new-secret  newer-secret",
            "WEBHOOK_SECRET_PREVIOUS": "old-secret new-secret",
            "GITLAB_WEBHOOK_SECRET": "gl-secret",
        }
    )
    assert [x.reveal() for x in s.webhook_secrets] == ["new-secret", "newer-secret", "old-secret"]
    assert [x.reveal() for x in s.gitlab_webhook_secrets] == ["gl-secret"]


def test_short_webhook_secret_is_refused_without_echoing_it() -> None:
    # a 1-character secret made the log redaction mask every occurrence of that letter
    [problem] = problems({"WEBHOOK_SECRET": "q long-enough-secret"})
    assert problem == (
        "WEBHOOK_SECRET: each secret must be at least 8 characters long (1 is shorter)"
    )
    s = load_settings({"WEBHOOK_SECRET": "12345678"})  # 8 is enough
    assert s.webhook_secrets == (Secret("12345678"),)


def test_workers_zero_means_intake_only() -> None:
    assert load_settings({**BASE, "PRBOT_WORKERS": "0"}).workers == 0
    table = " ".join(help_table().split())
    assert "0: this process only takes webhooks" in table  # and says how to run the jobs
    assert "another `prbot serve` with PRBOT_WORKERS >= 1 (on another PORT)" in table


@pytest.mark.parametrize("form", ["pem", "escaped", "base64", "path"])
def test_private_key_forms(form: str, tmp_path: Path) -> None:
    env = {**BASE, "APP_ID": "42"}
    if form == "pem":
        env["PRIVATE_KEY"] = pem()
    elif form == "escaped":
        env["PRIVATE_KEY"] = pem().strip().replace("\n", "\\n")
    elif form == "base64":
        env["PRIVATE_KEY"] = base64.b64encode(pem().encode()).decode()
    else:
        (tmp_path / "key.pem").write_text(pem())
        env["PRIVATE_KEY_PATH"] = str(tmp_path / "key.pem")
    s = load_settings(env)
    assert s.app_id == 42
    assert s.private_key is not None and s.private_key.reveal() == pem()


def test_both_key_forms_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "key.pem").write_text(pem())
    [problem] = problems(
        {**BASE, "APP_ID": "1", "PRIVATE_KEY": pem(), "PRIVATE_KEY_PATH": str(tmp_path / "key.pem")}
    )
    assert problem.startswith("PRIVATE_KEY_PATH: ")


def test_secrets_never_in_repr() -> None:
    secrets = {
        "WEBHOOK_SECRET": "gh-hook-secret-1",
        "WEBHOOK_SECRET_PREVIOUS": "gh-hook-secret-0",
        "GITHUB_TOKEN": "ghp_" + "a" * 36,
        "GITLAB_TOKEN": "glpat-bbbbbbbbbbbbbbbbbbbb",
        "GITLAB_WEBHOOK_SECRET": "gl-hook-secret",
        "PRBOT_API_TOKEN": "api-token-value",
        "APP_ID": "7",
        "PRIVATE_KEY": pem(),
    }
    s = load_settings(secrets)
    shown = repr(s) + str(s) + f"{s}"
    for name, value in secrets.items():
        if name != "APP_ID":
            assert value.strip() not in shown, name
    assert "-----BEGIN" not in shown
    secret = Secret("abc")
    assert (repr(secret), str(secret), f"{secret}", f"{secret!r}") == ("***",) * 4
    assert secret.reveal() == "abc"


def test_config_file_toml_and_env_wins(tmp_path: Path) -> None:
    path = tmp_path / "prbot.toml"
    path.write_text(
        'WEBHOOK_SECRET = "from-file"\nPORT = 9000\nprbot_workers = 2\n'
        'GITLAB_WEBHOOK_SECRET = ["gl-one-secret", "gl-two-secret"]\n'
    )
    s = load_settings({"PORT": "9100"}, config_file=str(path))
    assert (s.port, s.workers) == (9100, 2)
    assert s.webhook_secrets == (Secret("from-file"),)
    assert [x.reveal() for x in s.gitlab_webhook_secrets] == ["gl-one-secret", "gl-two-secret"]
    assert s.config_file == str(path)


def test_config_file_yaml_via_prbot_config(tmp_path: Path) -> None:
    path = tmp_path / "prbot.yaml"
    path.write_text("WEBHOOK_SECRET: yaml-secret\nLOG_FORMAT: json\n")
    s = load_settings({"PRBOT_CONFIG": str(path)})
    assert s.log_format == "json"


def test_config_file_problems(tmp_path: Path) -> None:
    bad_key = tmp_path / "a.yaml"
    bad_key.write_text("WEBHOOK_SECRET: y\nWEBHOOK_SECRETS: z\n")
    [problem] = problems({}, config_file=str(bad_key))
    assert problem.startswith("PRBOT_CONFIG") and "WEBHOOK_SECRETS" in problem
    assert "did you mean 'WEBHOOK_SECRET'" in problem
    [missing] = problems({}, config_file=str(tmp_path / "missing.toml"))
    assert missing.startswith("PRBOT_CONFIG") and "cannot read" in missing
    broken = tmp_path / "b.toml"
    broken.write_text("PORT = = 3")
    [syntax] = problems({}, config_file=str(broken))
    assert syntax.startswith("PRBOT_CONFIG") and "not valid" in syntax
    ini = tmp_path / "c.ini"
    ini.write_text("x")
    assert problems({}, config_file=str(ini))[0].startswith("PRBOT_CONFIG")


def test_the_clock_file_is_read_at_start_and_says_it_is_for_tests(tmp_path: Path) -> None:
    assert load_settings(BASE).clock_file is None  # the real clock
    clock = tmp_path / "clock"
    clock.write_text("-3600.5\n")
    assert load_settings({**BASE, "PRBOT_CLOCK_FILE": str(clock)}).clock_file == clock
    clock.write_text("tomorrow")
    [problem] = problems({**BASE, "PRBOT_CLOCK_FILE": str(clock)})
    assert problem.startswith(f"PRBOT_CLOCK_FILE: {clock} must hold a number of seconds")
    [problem] = problems({**BASE, "PRBOT_CLOCK_FILE": str(tmp_path / "missing")})
    assert (
        problem
        == f"PRBOT_CLOCK_FILE: cannot read {tmp_path / 'missing'}: No such file or directory"
    )
    assert "for tests and the demo, never in production" in " ".join(help_table().split())


def test_help_table_lists_every_variable() -> None:
    table = help_table()
    for var in VARIABLES:
        assert var.name in table
    assert "[secret]" in table or "; secret]" in table


def test_settings_constructible_for_tests() -> None:
    s = Settings(webhook_secrets=(Secret("x"),))
    assert s.secret_values() == ["x"]


def test_retention_and_web_processes() -> None:
    s = load_settings(BASE)
    assert (s.retention_days, s.web_processes) == (30.0, 1)
    s = load_settings({**BASE, "PRBOT_RETENTION_DAYS": "0", "PRBOT_WEB_PROCESSES": "3"})
    assert (s.retention_days, s.web_processes) == (0.0, 3)
    # shorter than GitHub's redelivery window: a redelivery could act twice
    [problem] = problems({**BASE, "PRBOT_RETENTION_DAYS": "1"})
    assert problem.startswith("PRBOT_RETENTION_DAYS: must be 0 (keep everything) or at least 3")
    [problem] = problems({**BASE, "PRBOT_WEB_PROCESSES": "0"})
    assert problem.startswith("PRBOT_WEB_PROCESSES: must be at least 1")


def test_the_table_is_the_one_source_of_defaults() -> None:
    """Every variable that fills a Settings field has that field, and the field's default
    is what loading gives when the variable is unset (one table, not three places)."""
    fields = {f.name: f for f in dataclasses.fields(Settings)}
    loaded = load_settings(BASE)
    for var in VARIABLES:
        if not var.attr:
            continue
        assert var.attr in fields, var.name
        if var.attr in ("webhook_secrets",):
            continue
        assert getattr(Settings(), var.attr) == getattr(loaded, var.attr), var.name
    assert Settings().database_url == loaded.database_url


def test_bounds_come_from_the_table_and_show_in_help() -> None:
    port = next(v for v in VARIABLES if v.name == "PORT")
    assert (port.minimum, port.maximum) == (0, 65535)
    [problem] = problems({**BASE, "PORT": "70000"})
    assert problem == "PORT: must be at most 65535, got 70000"
    assert "at most 65535" in " ".join(help_table().split())
    [problem] = problems({**BASE, "PRBOT_MAX_BODY_BYTES": "10"})
    assert problem == "PRBOT_MAX_BODY_BYTES: must be at least 1024, got 10"


def test_command_line_tools_read_single_settings(tmp_path: Path) -> None:
    from prbot.settings import database_url, setting

    assert setting("PRBOT_AUTOMATIONS_DIR", {}) == Path("automations")
    assert setting("PRBOT_WORKERS", {"PRBOT_WORKERS": "2"}) == 2
    with pytest.raises(ConfigError, match=r"^PRBOT_WORKERS: must be an integer"):
        setting("PRBOT_WORKERS", {"PRBOT_WORKERS": "two"})
    config = tmp_path / "prbot.toml"
    config.write_text('PRBOT_DATA_DIR = "/srv/prbot"\n')
    assert database_url({"PRBOT_CONFIG": str(config)}) == "sqlite:/srv/prbot/prbot.db"


def test_the_docs_reference_is_generated_from_the_table() -> None:
    from prbot.settings import reference_markdown

    docs = Path(__file__).resolve().parents[1] / "docs" / "settings.md"
    # regenerate: python -c "from prbot.settings import *; print(reference_markdown(), end='')"
    assert docs.read_text() == reference_markdown()
    for var in VARIABLES:
        assert f"`{var.name}`" in docs.read_text()


def test_core_limits_are_settings_named_after_their_fields() -> None:
    from prbot.automation.limits import LIMITS, Limits
    from prbot.settings import core_limits

    assert load_settings(BASE).limits == LIMITS
    for f in dataclasses.fields(Limits):
        assert f"PRBOT_LIMIT_{f.name.upper()}" in {v.name for v in VARIABLES}
    s = load_settings({**BASE, "PRBOT_LIMIT_MAX_STRING": "4096", "PRBOT_LIMIT_MAX_INPUTS": "7"})
    assert (s.limits.max_string, s.limits.max_inputs) == (4096, 7)
    assert core_limits({"PRBOT_LIMIT_MAX_LIST": "10"}).max_list == 10
    [problem] = problems({**BASE, "PRBOT_LIMIT_MAX_STRING": "0"})
    assert problem == "PRBOT_LIMIT_MAX_STRING: must be at least 1, got 0"


def test_the_readme_security_section_lists_every_limit() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme[readme.index("## Security") :]
    limits = [v for v in VARIABLES if v.name.startswith(("PRBOT_SANDBOX_", "PRBOT_LIMIT_"))]
    assert len(limits) >= 18
    for var in [*limits, next(v for v in VARIABLES if v.name == "PRBOT_MAX_BODY_BYTES")]:
        assert f"| `{var.name}` | {var.default} |" in section, var.name


def test_command_permissions_are_read_and_checked_against_the_commands() -> None:
    env = {**BASE, "PRBOT_COMMAND_PERMISSIONS": "rollback=admin, run=maintain"}
    assert load_settings(env).command_permissions == {"rollback": "admin", "run": "maintain"}
    assert load_settings(BASE).command_permissions == {}
    for given, problem in [
        ("rollback", "'rollback' is not VERB=PERMISSION"),
        ("rolback=admin", "no command 'rolback' (did you mean 'rollback'?)"),
        ("run=god", "run: 'god' is not one of none, read, triage, write, maintain, admin"),
        ("approve=admin", "approve is decided by the gate's approvers"),
        ("hold=read", "hold: needs at least triage"),
        ("run=admin,run=write", "run is given twice"),
    ]:
        [found] = problems({**BASE, "PRBOT_COMMAND_PERMISSIONS": given})
        assert found.startswith(f"PRBOT_COMMAND_PERMISSIONS: {problem}"), found


def test_the_pages_sign_in_settings_are_checked() -> None:
    assert problems({**BASE, "PRBOT_UI_SECRET": "short"}) == [
        "PRBOT_UI_SECRET: must be at least 32 characters"
    ]
    assert problems({**BASE, "GITHUB_CLIENT_ID": "Iv1.x"}) == [
        "GITHUB_CLIENT_SECRET: GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET go together"
    ]
    assert problems({**BASE, "PRBOT_UI_TRUSTED_PROXIES": "127.0.0.1, proxy.local"}) == [
        "PRBOT_UI_TRUSTED_PROXIES: 'proxy.local' is not an address or a network"
    ]
    s = load_settings(
        {**BASE, "GITLAB_CLIENT_ID": "app", "GITLAB_CLIENT_SECRET": "gl-secret-value-123"}
    )
    assert s.ui_auth == "oauth" and s.ui_trusted_proxies == "127.0.0.1"
    assert "gl-secret-value-123" in s.secret_values()  # redacted from logs
    assert "gl-secret-value-123" not in repr(s)

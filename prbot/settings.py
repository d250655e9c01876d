"""Settings for ``prbot serve``: environment variables, optionally a config file.

Names follow Probot where Probot has one (APP_ID, PRIVATE_KEY, WEBHOOK_SECRET, ...), so a
Probot operator finds what they expect; prbot's own settings start with PRBOT_. The table
``VARIABLES`` is the single source for parsing, validation and ``prbot serve --help``.

Precedence: environment > config file (``--config FILE`` or PRBOT_CONFIG; YAML or TOML,
keys are the variable names) > the files ``prbot setup`` writes (PRBOT_GITHUB_APP_FILE,
PRBOT_GITLAB_FILE; see ``SETUP_FILES``) > defaults. Empty values count as unset.

Webhook secret rotation: WEBHOOK_SECRET (and GITLAB_WEBHOOK_SECRET) may hold several
secrets separated by whitespace, and *_PREVIOUS holds more; any of them verifies a
delivery. Rotate by moving the old secret to *_PREVIOUS, setting the new one, then
changing it on the platform, then dropping *_PREVIOUS.

A platform's webhook route is served only when its secret is set; start-up refuses when
no platform has one (prbot would receive nothing), and refuses a webhook secret shorter
than MIN_WEBHOOK_SECRET characters: it is guessable, and masking it in the logs would mask
every occurrence of those few characters (garbling the logs and showing the secret).

Intake and workers may run as separate processes on one SQLite file: ``prbot serve`` with
PRBOT_WORKERS=0 only takes webhooks (and serves the API, /metrics, /readyz), and another
``prbot serve`` with PRBOT_WORKERS >= 1 and the same PRBOT_DATABASE_URL (on another PORT,
its webhook routes unused) runs the jobs and the reconciler. The store's writer lock
serializes the two writers. PRBOT_WEB_PROCESSES > 1 does the same within one deployment:
more processes on the same port (see ``prbot.web_processes``).

PRBOT_CLOCK_FILE moves prbot's clock by the seconds a file holds (``prbot.clock``), so an
end-to-end test or ``prbot demo`` reaches a window's opening or a soak's end without
waiting for it. It is never for production: ``prbot serve`` warns at start-up when set.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
import logging
import os
import re
import textwrap
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from prbot.automation.limits import LIMITS, Limits
from prbot.clock import ClockFileError, read_offset
from prbot.commands.permissions import PermissionsError, parse_overrides
from prbot.commands.registry import Permission
from prbot.errors import PrbotError, did_you_mean, redact_url

MiB = 1024 * 1024
T = TypeVar("T")
MIN_WEBHOOK_SECRET = 8
MIN_RETENTION_DAYS = 3.0


class Secret:
    """A secret string: shown as ``***`` by repr, str and format, so it cannot leak by
    being printed, logged or put in an f-string. ``reveal()`` is the only way in."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "***"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(self._value)


class ConfigError(PrbotError):
    """The configuration is invalid; each line names the variable at fault."""

    permanent = True

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


LOG_LEVELS: dict[str, int] = {
    "trace": logging.DEBUG,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "fatal": logging.CRITICAL,
    "critical": logging.CRITICAL,
}


# -- the table: every variable once, with its kind, default, bounds and secrecy


@dataclass(frozen=True)
class Var:
    """One variable: its name, what it means, how its text is read, its default (as text,
    read the same way), its bounds, and whether it is a secret. ``attr`` names the
    ``Settings`` attribute it fills on its own; variables read together with others
    (PRIVATE_KEY, *_PREVIOUS, GHE_HOST, the database URL) have none."""

    name: str
    help: str
    kind: str = "str"  # str, int, float, path, secret, secrets, choice, url
    default: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()  # for kind "choice"; lower case
    aliases: Mapping[str, str] = field(default_factory=dict)  # accepted spellings
    attr: str = ""

    @property
    def secret(self) -> bool:
        return self.kind in ("secret", "secrets")


VARIABLES: tuple[Var, ...] = (
    Var("APP_ID", "GitHub App id (App mode; needs PRIVATE_KEY or PRIVATE_KEY_PATH)", "int",
        minimum=1, attr="app_id"),
    Var("PRIVATE_KEY", "GitHub App private key, PEM (\\n escapes and base64 accepted)",
        "secret"),
    Var("PRIVATE_KEY_PATH", "file holding the GitHub App private key (PEM)"),
    Var(
        "WEBHOOK_SECRET",
        f"GitHub webhook secret (at least {MIN_WEBHOOK_SECRET} characters); several may be "
        "given, separated by whitespace",
        "secrets",
    ),
    Var("WEBHOOK_SECRET_PREVIOUS", "GitHub webhook secret(s) still accepted while rotating",
        "secrets"),
    Var("GHE_HOST", "GitHub Enterprise Server host name (e.g. github.example.com); unset: "
        "github.com"),
    Var("GHE_PROTOCOL", "protocol for GHE_HOST", "choice", "https",
        choices=("http", "https"), attr="ghe_protocol"),
    Var("GITHUB_TOKEN", "GitHub token (token mode, instead of an App)", "secret",
        attr="github_token"),
    Var("GITLAB_URL", "GitLab base URL", "url", "https://gitlab.com", attr="gitlab_url"),
    Var("GITLAB_TOKEN", "GitLab access token", "secret", attr="gitlab_token"),
    Var(
        "GITLAB_WEBHOOK_SECRET",
        f"GitLab webhook secret token(s) (at least {MIN_WEBHOOK_SECRET} characters), separated "
        "by whitespace",
        "secrets",
    ),
    Var("GITLAB_WEBHOOK_SECRET_PREVIOUS", "GitLab secret token(s) accepted while rotating",
        "secrets"),
    Var("LOG_LEVEL", "trace, debug, info, warn, error or fatal", "choice", "info",
        choices=tuple(LOG_LEVELS), attr="log_level"),
    Var("LOG_FORMAT", "json (one JSON object per line) or text", "choice", "text",
        choices=("json", "text"), aliases={"pretty": "text"}, attr="log_format"),
    Var("HOST", "address to listen on", default="0.0.0.0", attr="host"),
    Var("PORT", "port to listen on", "int", "3000", minimum=0, maximum=65535, attr="port"),
    Var("PRBOT_DATA_DIR", "folder for prbot's local data (the SQLite database)", "path",
        ".prbot-data", attr="data_dir"),
    Var(
        "PRBOT_DATABASE_URL",
        "store URL: sqlite:PATH or sqlite:///ABS/PATH (?synchronous=full: power-loss safe), "
        "or postgresql://USER:PASSWORD@HOST:PORT/DB for several replicas (?pool_size=N "
        "connections per process; ?migrate=off: only `prbot db migrate` changes the schema)",
        default="sqlite:$PRBOT_DATA_DIR/prbot.db",
    ),
    Var("PRBOT_AUTOMATIONS_DIR", "folder of the deployment's definitions", "path",
        "automations", attr="automations_dir"),
    Var(
        "PRBOT_WORKERS",
        "jobs run at once; 0: this process only takes webhooks and serves the API (no jobs, "
        "no reconciler; /readyz checks the store only): run the jobs in another `prbot serve` "
        "with PRBOT_WORKERS >= 1 (on another PORT) on the same PRBOT_DATABASE_URL, so intake "
        "and workers do not share one process (and its GIL). A job mostly waits on the platform's "
        "answers, so many run at once cheaply; each makes its requests one after another",
        "int", "16", minimum=0, attr="workers",
    ),
    Var(
        "PRBOT_WEB_PROCESSES",
        "processes serving HTTP on PORT together (SO_REUSEPORT; the kernel spreads "
        "connections over them); the first also runs the workers and the reconciler. "
        "Python runs one core per process: set it to the cores there are for webhook intake "
        "beyond one core's worth",
        "int", "1", minimum=1, attr="web_processes",
    ),
    Var("PRBOT_LEASE_SECONDS", "how long a worker holds a job before another may take it",
        "float", "60", minimum=1, attr="lease_seconds"),
    Var("PRBOT_MAX_ATTEMPTS", "attempts before a job is dead-lettered", "int", "8", minimum=1,
        attr="max_attempts"),
    Var("PRBOT_RECONCILE_SECONDS", "interval of the reconciler's poll (0: off)", "float",
        "300", minimum=0, attr="reconcile_seconds"),
    Var(
        "PRBOT_RETENTION_DAYS",
        "deliveries (their bodies and events) and done jobs older than this are deleted by "
        "the reconciler's passes; dead jobs, runs and the audit log are kept. At least "
        f"{MIN_RETENTION_DAYS:g}: GitHub redelivers up to 3 days later, and a delivery "
        "already deleted would be acted on again. 0: keep everything",
        "float", "30", minimum=0, attr="retention_days",
    ),
    Var("PRBOT_MAX_BODY_BYTES", "largest request body accepted", "int", str(25 * MiB),
        minimum=1024, attr="max_body_bytes"),
    Var("PRBOT_SANDBOX_PROCESSES", "processes that load repository definitions and render "
        "changes (untrusted work, never on the event loop); tasks beyond them wait", "int",
        "2", minimum=1, maximum=64, attr="sandbox_processes"),
    Var("PRBOT_SANDBOX_SECONDS", "wall-clock limit of one load or render; a task over it is "
        "killed and its run fails", "float", "10", minimum=0.1, maximum=600,
        attr="sandbox_seconds"),
    Var("PRBOT_SANDBOX_CPU_SECONDS", "CPU-time limit of one load or render", "float", "10",
        minimum=0.1, maximum=600, attr="sandbox_cpu_seconds"),
    Var("PRBOT_SANDBOX_MEMORY_MIB", "address-space limit of a sandbox process, MiB", "int",
        "512", minimum=128, maximum=65536, attr="sandbox_memory_mib"),
    Var("PRBOT_SANDBOX_OUTPUT_MIB", "largest answer of one load or render, MiB", "int", "32",
        minimum=1, maximum=1024, attr="sandbox_output_mib"),
    Var("PRBOT_API_TOKEN", "bearer token of the internal API (/api; off when unset)", "secret",
        attr="api_token"),
    Var("PRBOT_URL", "address of a running `prbot serve`, for the command-line clients "
        "(`prbot promote`, `prbot promotions`); --url wins", "url",
        "http://127.0.0.1:3000"),
    Var(
        "PRBOT_COMMAND_PERMISSIONS",
        "the least permission each slash-command needs in this deployment, over the "
        "defaults: VERB=PERMISSION pairs separated by commas (none, read, triage, write, "
        "maintain, admin), e.g. `rollback=admin,run=maintain`. A repository's "
        ".prbot/config.yaml overrides these, except that the stricter wins for rollback",
    ),
    Var("PRBOT_CONFIG", "config file (YAML or TOML) with the same names as keys"),
    Var(
        "PRBOT_GITHUB_APP_FILE",
        "the file `prbot setup github` writes (mode 0600; YAML): the App's APP_ID, "
        "PRIVATE_KEY, WEBHOOK_SECRET, GITHUB_CLIENT_ID, GITHUB_CLIENT_SECRET and GHE_HOST / "
        "GHE_PROTOCOL, read when it exists. The environment and the config file win over it "
        "variable by variable; it is not read at all when APP_ID, PRIVATE_KEY, "
        "PRIVATE_KEY_PATH or GITHUB_TOKEN is set there (one App's key must not meet another's "
        "id). Unset: $PRBOT_DATA_DIR/github-app.yaml",
        "path",
    ),
    Var(
        "PRBOT_GITLAB_FILE",
        "the file `prbot setup gitlab` writes (mode 0600; YAML): GITLAB_URL and "
        "GITLAB_WEBHOOK_SECRET, read when it exists; the environment and the config file win "
        "over it variable by variable. Unset: $PRBOT_DATA_DIR/gitlab.yaml",
        "path",
    ),
    Var(
        "PRBOT_CLOCK_FILE",
        "for tests and the demo, never in production: a file holding seconds (a number, may "
        "be negative) added to the clock by which prbot schedules and decides (windows, "
        "soaks, deadlines, job times); re-read when it changes (write a new file and rename "
        "it over). Unset: the real clock",
        "path", attr="clock_file",
    ),
    Var("PRBOT_UI_AUTH", "how people sign in to the pages: oauth (with GitHub or GitLab, "
        "through the OAuth apps below) or proxy (a header set by an SSO proxy in front)",
        "choice", "oauth", choices=("oauth", "proxy"), attr="ui_auth"),
    Var("PRBOT_UI_SECRET", "key that signs the pages' session cookies (at least 32 "
        "characters); unset: one derived from the webhook secret (the same in every web "
        "process; changing either signs everyone out)", "secret", attr="ui_secret"),
    Var("PRBOT_UI_PUBLIC_URL", "the address people reach the pages at (the OAuth apps' "
        "callbacks are under it, and cookies are Secure when it is https); unset: "
        "http://127.0.0.1:PORT", "url", attr="ui_public_url"),
    Var("GITHUB_CLIENT_ID", "the GitHub App's client id, for \"Sign in with GitHub\"",
        attr="github_client_id"),
    Var("GITHUB_CLIENT_SECRET", "the GitHub App's client secret", "secret",
        attr="github_client_secret"),
    Var("GITLAB_CLIENT_ID", "the GitLab OAuth application's id, for \"Sign in with GitLab\"",
        attr="gitlab_client_id"),
    Var("GITLAB_CLIENT_SECRET", "the GitLab OAuth application's secret", "secret",
        attr="gitlab_client_secret"),
    Var("PRBOT_UI_PROXY_HEADER", "with PRBOT_UI_AUTH=proxy: the header naming the user",
        default="X-Forwarded-User", attr="ui_proxy_header"),
    Var("PRBOT_UI_TRUSTED_PROXIES", "with PRBOT_UI_AUTH=proxy: the addresses or networks "
        "(comma-separated) whose user header is believed; from anyone else it is ignored",
        default="127.0.0.1", attr="ui_trusted_proxies"),
)  # fmt: skip
# the pure core's limits on untrusted definitions, templates and inputs: one variable per
# field of prbot.automation.limits.Limits, named after it (its errors name the field)
LIMIT_HELP = {
    "max_file_bytes": "largest definition file, bytes",
    "max_documents": "YAML documents in one definition file",
    "max_alias_nodes": "YAML nodes of one document with its aliases expanded",
    "max_file_nodes": "YAML nodes written in one definition file",
    "max_repo_nodes": "YAML nodes written in all the definition files of one folder",
    "max_repo_files": "files in a repository's .prbot/",
    "max_repo_bytes": "bytes in a repository's .prbot/, all files together",
    "max_string": "largest string one template operation may build, bytes",
    "max_list": "longest list or range one template operation may build",
    "max_output_file_bytes": "largest rendered file, bytes",
    "max_output_bytes": "all the files of one change together, bytes",
    "max_input_bytes": "largest input value, bytes",
    "max_inputs": "input values given to one run",
}
LIMIT_VARIABLES: tuple[Var, ...] = tuple(
    Var(
        f"PRBOT_LIMIT_{f.name.upper()}",
        LIMIT_HELP[f.name],
        "int",
        str(f.default),
        minimum=1,
    )
    for f in fields(Limits)
)
VARIABLES += LIMIT_VARIABLES
BY_NAME: dict[str, Var] = {v.name: v for v in VARIABLES}


class _Invalid(ValueError):
    """A value that does not fit its variable; the message follows ``NAME: ``."""


def _parse(var: Var, text: str) -> Any:
    """``text`` read as ``var`` says, within its bounds; ``_Invalid`` if it is not."""
    if var.kind in ("int", "float"):
        cast: Callable[[str], Any] = int if var.kind == "int" else float
        try:
            value = cast(text)
        except ValueError:
            kind = "an integer" if var.kind == "int" else "a number"
            raise _Invalid(f"must be {kind}, got {text!r}") from None
        if var.minimum is not None and value < var.minimum:
            raise _Invalid(f"must be at least {var.minimum:g}, got {text}")
        if var.maximum is not None and value > var.maximum:
            raise _Invalid(f"must be at most {var.maximum:g}, got {text}")
        return value
    if var.kind == "path":
        return Path(text)
    if var.kind == "secret":
        return Secret(text)
    if var.kind == "secrets":
        return tuple(Secret(s) for s in text.split())
    if var.kind == "choice":
        value = var.aliases.get(text.lower(), text.lower())
        if value not in var.choices:
            names = ", ".join(var.choices)
            raise _Invalid(f"must be one of {names}; got {text!r}")
        return value
    if var.kind == "url":
        if not re.match(r"https?://[^/\s]+", text):
            raise _Invalid(f"must be an http(s) URL, got {text!r}")
        return text.rstrip("/")
    return text


def default_of(name: str) -> Any:
    """The typed default of a variable, for the ``Settings`` field it fills."""
    var = BY_NAME[name]
    return _parse(var, var.default) if var.default else None


@dataclass(frozen=True)
class Settings:
    """What ``prbot serve`` runs with. Every default comes from the table above; tests
    build one with only what they need."""

    app_id: int | None = None
    private_key: Secret | None = None
    github_token: Secret | None = None
    webhook_secrets: tuple[Secret, ...] = ()
    ghe_host: str = ""
    ghe_protocol: str = default_of("GHE_PROTOCOL")
    gitlab_url: str = default_of("GITLAB_URL")
    gitlab_token: Secret | None = None
    gitlab_webhook_secrets: tuple[Secret, ...] = ()
    log_level: str = default_of("LOG_LEVEL")
    log_format: str = default_of("LOG_FORMAT")
    host: str = default_of("HOST")
    port: int = default_of("PORT")
    data_dir: Path = default_of("PRBOT_DATA_DIR")
    database_url: str = f"sqlite:{default_of('PRBOT_DATA_DIR') / 'prbot.db'}"
    automations_dir: Path = default_of("PRBOT_AUTOMATIONS_DIR")
    workers: int = default_of("PRBOT_WORKERS")
    web_processes: int = default_of("PRBOT_WEB_PROCESSES")
    lease_seconds: float = default_of("PRBOT_LEASE_SECONDS")
    max_attempts: int = default_of("PRBOT_MAX_ATTEMPTS")
    reconcile_seconds: float = default_of("PRBOT_RECONCILE_SECONDS")
    retention_days: float = default_of("PRBOT_RETENTION_DAYS")
    max_body_bytes: int = default_of("PRBOT_MAX_BODY_BYTES")
    sandbox_processes: int = default_of("PRBOT_SANDBOX_PROCESSES")
    sandbox_seconds: float = default_of("PRBOT_SANDBOX_SECONDS")
    sandbox_cpu_seconds: float = default_of("PRBOT_SANDBOX_CPU_SECONDS")
    sandbox_memory_mib: int = default_of("PRBOT_SANDBOX_MEMORY_MIB")
    sandbox_output_mib: int = default_of("PRBOT_SANDBOX_OUTPUT_MIB")
    limits: Limits = LIMITS
    api_token: Secret | None = None
    clock_file: Path | None = None
    ui_auth: str = default_of("PRBOT_UI_AUTH")
    ui_secret: Secret | None = field(default=None, repr=False)
    ui_public_url: str | None = None
    github_client_id: str | None = None
    github_client_secret: Secret | None = field(default=None, repr=False)
    gitlab_client_id: str | None = None
    gitlab_client_secret: Secret | None = field(default=None, repr=False)
    ui_proxy_header: str = default_of("PRBOT_UI_PROXY_HEADER")
    ui_trusted_proxies: str = default_of("PRBOT_UI_TRUSTED_PROXIES")
    # verb -> the least permission it needs here (PRBOT_COMMAND_PERMISSIONS)
    command_permissions: Mapping[str, Permission] = field(default_factory=dict)
    config_file: str = ""
    # secrets found inside other values (a database URL's password), for log redaction
    extra_secrets: tuple[Secret, ...] = field(default=(), repr=False)

    @property
    def github_api_url(self) -> str:
        if self.ghe_host:
            return f"{self.ghe_protocol}://{self.ghe_host}/api/v3"
        return "https://api.github.com"

    @property
    def serves_github(self) -> bool:
        return bool(self.webhook_secrets)

    @property
    def serves_gitlab(self) -> bool:
        return bool(self.gitlab_webhook_secrets)

    @property
    def log_level_number(self) -> int:
        return LOG_LEVELS.get(self.log_level, logging.INFO)

    def secret_values(self) -> list[str]:
        """Every configured secret in clear, for the log redaction filter only."""
        found: list[Secret | None] = [
            self.private_key,
            self.github_token,
            self.gitlab_token,
            self.api_token,
            self.ui_secret,
            self.github_client_secret,
            self.gitlab_client_secret,
            *self.webhook_secrets,
            *self.gitlab_webhook_secrets,
            *self.extra_secrets,
        ]
        return [s.reveal() for s in found if s is not None and s.reveal()]

    def database_url_display(self) -> str:
        """The database URL with any password masked, for logs."""
        return redact_url(self.database_url)


# -- loading


def read_config_file(path: str) -> dict[str, str]:
    """Keys and values of a YAML or TOML file, as strings; errors name PRBOT_CONFIG."""
    where = f"PRBOT_CONFIG ({path})"
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{where}: cannot read: {exc.strerror}"]) from None
    try:
        if path.endswith(".toml"):
            data: Any = tomllib.loads(text)
        elif path.endswith((".yaml", ".yml", ".json")):
            from ruamel.yaml import YAML
            from ruamel.yaml.error import YAMLError

            try:
                data = YAML(typ="safe", pure=True).load(text)
            except YAMLError as exc:
                raise ValueError(str(exc)) from None
        else:
            raise ConfigError([f"{where}: use a .toml, .yaml or .yml file"])
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError([f"{where}: not valid: {exc}"]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError([f"{where}: must be a mapping of variable names to values"])
    out: dict[str, str] = {}
    problems: list[str] = []
    for key, value in data.items():
        name = str(key).upper()
        if name not in BY_NAME or name == "PRBOT_CONFIG":
            hint = did_you_mean(name, [n for n in BY_NAME if n != "PRBOT_CONFIG"])
            problems.append(f"{where}: {key}: not a prbot setting{hint}")
            continue
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            out[name] = " ".join(value)  # a list of secrets, as rotation allows
        elif isinstance(value, str | int | float) and not isinstance(value, bool):
            out[name] = str(value)
        else:
            problems.append(f"{where}: {key}: must be a string or a number")
    if problems:
        raise ConfigError(problems)
    return out


def _raw(
    env: Mapping[str, str] | None, config_file: str | None, *, setup_files: bool = False
) -> tuple[dict[str, str], str]:
    """The variables' texts, environment over config file (over the files ``prbot setup``
    writes, with ``setup_files``: what serves reads them, never the other tools), and the
    config file used. Only this module reads the environment."""
    env = os.environ if env is None else env
    config_file = config_file or env.get("PRBOT_CONFIG", "").strip() or ""
    raw: dict[str, str] = read_config_file(config_file) if config_file else {}
    for var in VARIABLES:
        value = env.get(var.name, "")
        if value.strip():
            raw[var.name] = value
    for name, (keys, blockers) in SETUP_FILES.items() if setup_files else ():
        if any(raw.get(b, "").strip() for b in blockers):
            continue
        for key, value in read_setup_file(name, raw, keys).items():
            raw.setdefault(key, value)
    return raw, config_file


# the files `prbot setup` writes: the setting naming each, its default name in
# PRBOT_DATA_DIR, the variables it may hold, and those whose presence elsewhere disables it
SETUP_FILES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "PRBOT_GITHUB_APP_FILE": (
        ("APP_ID", "PRIVATE_KEY", "WEBHOOK_SECRET", "GITHUB_CLIENT_ID", "GITHUB_CLIENT_SECRET",
         "GHE_HOST", "GHE_PROTOCOL"),
        ("APP_ID", "PRIVATE_KEY", "PRIVATE_KEY_PATH", "GITHUB_TOKEN"),
    ),
    "PRBOT_GITLAB_FILE": (("GITLAB_URL", "GITLAB_WEBHOOK_SECRET"), ()),
}  # fmt: skip
SETUP_FILE_NAMES = {"PRBOT_GITHUB_APP_FILE": "github-app.yaml", "PRBOT_GITLAB_FILE": "gitlab.yaml"}


def setup_file_path(name: str, raw: Mapping[str, str]) -> tuple[Path, bool]:
    """Where setup file ``name`` is, and whether it was named explicitly."""
    given = raw.get(name, "").strip()
    if given:
        return Path(given).expanduser(), True
    data_dir = raw.get("PRBOT_DATA_DIR", "").strip() or BY_NAME["PRBOT_DATA_DIR"].default
    return Path(data_dir).expanduser() / SETUP_FILE_NAMES[name], False


def read_setup_file(name: str, raw: Mapping[str, str], keys: tuple[str, ...]) -> dict[str, str]:
    """The variables setup file ``name`` holds ({} when the default one does not exist);
    ConfigError naming ``name`` when it is unreadable, open to others or holds other keys."""
    path, explicit = setup_file_path(name, raw)
    where = f"{name} ({path})"
    if not path.exists():
        if explicit:
            raise ConfigError([f"{where}: no such file"])
        return {}
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise ConfigError([f"{where}: holds secrets but is open to others (mode {mode:04o}): "
                           f"chmod 600 {path}"])  # fmt: skip
    try:
        from ruamel.yaml import YAML
        from ruamel.yaml.error import YAMLError

        data = YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not a text file"
        raise ConfigError([f"{where}: cannot read: {reason}"]) from None
    except YAMLError:
        raise ConfigError([f"{where}: not valid YAML"]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError([f"{where}: must be a mapping of variable names to values"])
    unknown = sorted(str(k) for k in data if k not in keys)
    if unknown:
        raise ConfigError([f"{where}: {', '.join(unknown)}: not allowed here (only "
                           f"{', '.join(keys)})"])  # fmt: skip
    return {str(k): str(v) for k, v in data.items() if v is not None and str(v).strip()}


class _Reader:
    """Reads raw values by the table and collects problems, so one start-up shows every
    mistake."""

    def __init__(self, raw: Mapping[str, str]) -> None:
        self.raw = raw
        self.problems: list[str] = []

    def get(self, name: str) -> str:
        return self.raw.get(name, "").strip()

    def fail(self, name: str, message: str) -> None:
        self.problems.append(f"{name}: {message}")

    def value(self, name: str) -> Any:
        """The variable's typed value, its default when unset (None without one)."""
        var = BY_NAME[name]
        text = self.get(name)
        if not text:
            return default_of(name)
        try:
            return _parse(var, text)
        except _Invalid as exc:
            self.fail(name, str(exc))
            return default_of(name)


def _read_alone(
    read: Callable[[_Reader], T], env: Mapping[str, str] | None, *, setup_files: bool = False
) -> T:
    """What ``read`` takes from the variables, without ``serve``'s other checks, for the
    command-line tools; ConfigError names each variable at fault."""
    raw, _ = _raw(env, None, setup_files=setup_files)
    r = _Reader(raw)
    value = read(r)
    if r.problems:
        raise ConfigError(r.problems)
    return value


def setting(name: str, env: Mapping[str, str] | None = None, *, setup_files: bool = False) -> Any:
    """One variable's typed value (environment, config file, with ``setup_files`` the
    files ``prbot setup`` writes, default)."""
    return _read_alone(lambda r: r.value(name), env, setup_files=setup_files)


def setup_file(name: str, env: Mapping[str, str] | None = None) -> Path:
    """Where ``prbot setup`` writes (and ``prbot serve`` reads) setup file ``name``
    (``PRBOT_GITHUB_APP_FILE`` or ``PRBOT_GITLAB_FILE``)."""
    return setup_file_path(name, _raw(env, None)[0])[0]


def no_color(env: Mapping[str, str] | None = None) -> bool:
    """The NO_COLOR convention (no-color.org): a terminal's wish, not a service setting."""
    env = os.environ if env is None else env
    return bool(env.get("NO_COLOR"))


def database_url(env: Mapping[str, str] | None = None) -> str:
    """PRBOT_DATABASE_URL as ``prbot serve`` resolves it (default: in PRBOT_DATA_DIR)."""
    return _read_alone(_database_url, env)


def _database_url(r: _Reader) -> str:
    return r.get("PRBOT_DATABASE_URL") or f"sqlite:{r.value('PRBOT_DATA_DIR') / 'prbot.db'}"


def _pem(text: str) -> str | None:
    """A PEM private key from the forms Probot accepts: PEM, PEM with \\n escapes, base64."""
    text = text.replace("\\n", "\n").strip()
    if not text.startswith("-----BEGIN"):
        try:
            text = base64.b64decode(text, validate=True).decode("utf-8").strip()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None
    if not (text.startswith("-----BEGIN") and "PRIVATE KEY-----" in text):
        return None
    try:
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        load_pem_private_key(text.encode(), password=None)
    except (ValueError, TypeError):
        return None
    return text + "\n"


def _private_key(r: _Reader) -> Secret | None:
    inline, path = r.get("PRIVATE_KEY"), r.get("PRIVATE_KEY_PATH")
    if inline and path:
        r.fail("PRIVATE_KEY_PATH", "set PRIVATE_KEY or PRIVATE_KEY_PATH, not both")
        return None
    if inline:
        pem = _pem(inline)
        if pem is None:
            r.fail("PRIVATE_KEY", "not a PEM private key (-----BEGIN ... PRIVATE KEY-----)")
        return Secret(pem) if pem else None
    if path:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or "not a text file"
            r.fail("PRIVATE_KEY_PATH", f"cannot read {path}: {reason}")
            return None
        pem = _pem(text)
        if pem is None:
            r.fail("PRIVATE_KEY_PATH", f"{path} does not hold a PEM private key")
        return Secret(pem) if pem else None
    return None


def _webhook_secrets(r: _Reader, name: str) -> tuple[Secret, ...]:
    current, previous = r.value(name) or (), r.value(f"{name}_PREVIOUS") or ()
    if previous and not current:
        r.fail(f"{name}_PREVIOUS", f"is set but {name} is not")
    for var, given in ((name, current), (f"{name}_PREVIOUS", previous)):
        short = sum(len(s.reveal()) < MIN_WEBHOOK_SECRET for s in given)
        if short:  # never echo the value, nor its length
            r.fail(
                var,
                f"each secret must be at least {MIN_WEBHOOK_SECRET} characters long "
                f"({short} is shorter)",
            )
    unique: dict[str, Secret] = {}
    for s in (*current, *previous):
        unique.setdefault(s.reveal(), s)
    return tuple(unique.values())


def load_settings(
    env: Mapping[str, str] | None = None, *, config_file: str | None = None
) -> Settings:
    """Settings from ``env`` (default: os.environ) over the config file; ConfigError lists
    every problem, each naming its variable."""
    raw, config_file = _raw(env, config_file, setup_files=True)
    r = _Reader(raw)
    # every variable that fills a field on its own, read by the table
    values: dict[str, Any] = {v.attr: r.value(v.name) for v in VARIABLES if v.attr}

    private_key = _private_key(r)
    app_id = values["app_id"]
    if app_id is not None and not (r.get("PRIVATE_KEY") or r.get("PRIVATE_KEY_PATH")):
        r.fail("APP_ID", "is set but neither PRIVATE_KEY nor PRIVATE_KEY_PATH is")
    if app_id is None and private_key is not None and not r.get("APP_ID"):
        r.fail("APP_ID", "must be set with PRIVATE_KEY / PRIVATE_KEY_PATH")

    ghe_host = r.get("GHE_HOST")
    if ghe_host and not re.fullmatch(r"[A-Za-z0-9.-]+(:\d+)?", ghe_host):
        r.fail("GHE_HOST", f"must be a host name like github.example.com, got {ghe_host!r}")

    database_url = _database_url(r)
    extra: tuple[Secret, ...] = ()
    try:
        from prbot.store import open_store

        open_store(database_url)  # parses the URL only; nothing is opened
    except ValueError as exc:
        r.fail("PRBOT_DATABASE_URL", str(exc))
    if password := urlsplit(database_url).password:
        extra = (Secret(password),)

    if r.get("PRBOT_AUTOMATIONS_DIR") and not values["automations_dir"].is_dir():
        r.fail("PRBOT_AUTOMATIONS_DIR", f"{values['automations_dir']} is not a directory")

    webhook_secrets = _webhook_secrets(r, "WEBHOOK_SECRET")
    gitlab_webhook_secrets = _webhook_secrets(r, "GITLAB_WEBHOOK_SECRET")
    if not webhook_secrets and not gitlab_webhook_secrets:
        r.fail(
            "WEBHOOK_SECRET",
            "no webhook secret configured: set WEBHOOK_SECRET (GitHub) and/or "
            "GITLAB_WEBHOOK_SECRET (GitLab); a platform's webhooks are served only "
            "with a secret",
        )
    _check_retention(r, values["retention_days"])
    _check_clock_file(r, values["clock_file"])
    _check_ui(r, values)
    limits = limits_from(r)
    command_permissions = _command_permissions(r)

    settings = Settings(
        **values,
        private_key=private_key,
        webhook_secrets=webhook_secrets,
        gitlab_webhook_secrets=gitlab_webhook_secrets,
        ghe_host=ghe_host,
        database_url=database_url,
        limits=limits,
        config_file=config_file,
        extra_secrets=extra,
        command_permissions=command_permissions,
    )
    if r.problems:
        raise ConfigError(r.problems)
    return settings


def _command_permissions(r: _Reader) -> dict[str, Permission]:
    """``rollback=admin,run=maintain`` -> ``{"rollback": "admin", "run": "maintain"}``,
    checked against the commands' registry."""
    name = "PRBOT_COMMAND_PERMISSIONS"
    pairs: dict[str, str] = {}
    for item in re.split(r"[,\s]+", r.get(name)):
        if not item:
            continue
        verb, eq, level = item.partition("=")
        if not eq or not verb or not level:
            r.fail(name, f"{item!r} is not VERB=PERMISSION")
            return {}
        if verb in pairs:
            r.fail(name, f"{verb} is given twice")
            return {}
        pairs[verb] = level
    try:
        return parse_overrides(pairs, name)
    except PermissionsError as exc:
        r.problems.append(str(exc))  # the message starts with the variable's name
        return {}


def limits_from(r: _Reader) -> Limits:
    names = {v.name.removeprefix("PRBOT_LIMIT_").lower(): v.name for v in LIMIT_VARIABLES}
    return Limits(**{field: r.value(name) for field, name in names.items()})


def core_limits(env: Mapping[str, str] | None = None) -> Limits:
    """The core's limits alone, for the command-line tools."""
    return _read_alone(limits_from, env)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(text: str, where: str) -> tuple[Network, ...]:
    """``127.0.0.1, 10.0.0.0/8`` -> networks; a clear error naming ``where`` otherwise."""
    found = []
    for item in (i.strip() for i in text.split(",")):
        if not item:
            continue
        try:
            found.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"{where}: {item!r} is not an address or a network") from None
    return tuple(found)


def _check_ui(r: _Reader, values: Mapping[str, Any]) -> None:
    secret = values.get("ui_secret")
    if secret is not None and len(secret.reveal()) < 32:
        r.fail("PRBOT_UI_SECRET", "must be at least 32 characters")
    for platform in ("github", "gitlab"):
        has_id = bool(values.get(f"{platform}_client_id"))
        has_secret = values.get(f"{platform}_client_secret") is not None
        if has_id != has_secret:
            name = platform.upper()
            r.fail(
                f"{name}_CLIENT_SECRET", f"{name}_CLIENT_ID and {name}_CLIENT_SECRET go together"
            )
    try:
        parse_networks(values["ui_trusted_proxies"], "PRBOT_UI_TRUSTED_PROXIES")
    except ValueError as exc:
        r.fail("PRBOT_UI_TRUSTED_PROXIES", str(exc).removeprefix("PRBOT_UI_TRUSTED_PROXIES: "))


def _check_retention(r: _Reader, days: float) -> None:
    if 0 < days < MIN_RETENTION_DAYS:
        r.fail(
            "PRBOT_RETENTION_DAYS",
            f"must be 0 (keep everything) or at least {MIN_RETENTION_DAYS:g} (GitHub "
            f"redelivers up to 3 days later), got {r.get('PRBOT_RETENTION_DAYS')}",
        )


def _check_clock_file(r: _Reader, path: Path | None) -> None:
    """Read once here, so a missing or malformed file stops start-up with the others."""
    if path is None:
        return
    try:
        read_offset(path)
    except ClockFileError as exc:
        r.fail("PRBOT_CLOCK_FILE", exc.reason)


def help_table() -> str:
    """The variables as a plain-text table, for ``prbot serve --help``."""
    width = max(len(v.name) for v in VARIABLES) + 4
    lines = ["environment variables (also keys of the --config file; the environment wins):"]
    for v in VARIABLES:
        notes = [f"default: {v.default}"] if v.default else []
        if v.minimum is not None:
            notes.append(f"at least {v.minimum:g}")
        if v.maximum is not None:
            notes.append(f"at most {v.maximum:g}")
        if v.secret:
            notes.append("secret")
        text = v.help + (f" [{'; '.join(notes)}]" if notes else "")
        wrapped = textwrap.wrap(text, width=88 - width) or [""]
        lines.append(f"  {v.name.ljust(width - 2)}{wrapped[0]}")
        lines += [" " * width + more for more in wrapped[1:]]
    return "\n".join(lines)


def reference_markdown() -> str:
    """The variables as the Markdown table of ``docs/settings.md`` (a test keeps that file
    equal to this)."""
    lines = [
        "# Settings of `prbot serve`",
        "",
        "Generated from `prbot/settings.py` (the one table of variables; `prbot serve --help`",
        "prints the same). Environment variables, or keys of the `--config` / `PRBOT_CONFIG`",
        "file (YAML or TOML); the environment wins. Empty values count as unset.",
        "",
        "| variable | what | kind | default | bounds | secret |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for v in VARIABLES:
        bounds = []
        if v.minimum is not None:
            bounds.append(f">= {v.minimum:g}")
        if v.maximum is not None:
            bounds.append(f"<= {v.maximum:g}")
        if v.choices:
            bounds.append(" / ".join(v.choices))
        cells = [
            f"`{v.name}`",
            v.help.replace("|", "\\|"),
            v.kind,
            f"`{v.default}`" if v.default else "",
            ", ".join(bounds),
            "yes" if v.secret else "",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"

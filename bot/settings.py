"""Patchbot's settings: read from the environment once, at start-up, by the command that runs.

Names follow what GitHub App authors already know from Probot (`APP_ID`, `PRIVATE_KEY`,
`WEBHOOK_SECRET`, `LOG_LEVEL`); Patchbot's own knobs start with `PATCHBOT_`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from bot.errors import ConfigError

Permission = Literal["read", "triage", "write", "maintain", "admin"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
LOG_LEVELS: tuple[str, ...] = get_args(LogLevel)
PERMISSION_ORDER: tuple[str, ...] = ("none", "read", "triage", "write", "maintain", "admin")
"""GitHub's repository roles from least to most; `none` is what a stranger has."""

# How to fix each setting, shown when its value is missing or invalid.
_HOW_TO_FIX: dict[str, str] = {
    "APP_ID": "copy the App ID from your GitHub App's settings page "
    "(Settings → Developer settings → GitHub Apps → your app → General) and set APP_ID=<number>.",
    "PRIVATE_KEY": "1. open your GitHub App's settings page, section 'Private keys';\n"
    "  2. click 'Generate a private key' and save the .pem file outside the repository;\n"
    "  3. set PRIVATE_KEY_PATH=/path/to/key.pem (or put the PEM text itself in PRIVATE_KEY).",
    "WEBHOOK_SECRET": "1. choose a long random secret, e.g. `python -c 'import secrets; "
    "print(secrets.token_hex(32))'`;\n"
    "  2. enter it as 'Webhook secret' on your GitHub App's settings page;\n"
    "  3. set WEBHOOK_SECRET to the same value here.",
    "DATABASE_URL": "use sqlite:///relative/patchbot.db, sqlite:////absolute/patchbot.db or "
    "postgresql://user:pass@host:5432/db.",
    "GITHUB_API_URL": "use https://api.github.com, or https://HOST/api/v3 for GitHub Enterprise "
    "Server.",
    "LOG_LEVEL": "use DEBUG, INFO, WARNING or ERROR (or unset it).",
    "LOG_FORMAT": "use text (one readable line per event) or json (one JSON object per line).",
    "OTEL_EXPORTER_OTLP_ENDPOINT": "give the base URL of an OTLP/HTTP receiver, e.g. "
    "http://127.0.0.1:4318 (spans go to its /v1/traces), or unset it to send no spans.",
    "PATCHBOT_MODEL_API_BASE": "give the base URL of an OpenAI-compatible server, e.g. "
    "http://127.0.0.1:8001/v1, or unset it to use the provider's own endpoint.",
}
_NOT_SHOWN = (
    "PRIVATE_KEY",
    "WEBHOOK_SECRET",
    "PATCHBOT_MODEL_API_KEY",
    "DATABASE_URL",
    "GITHUB_CLIENT_SECRET",
    "PATCHBOT_UI_TOKEN",
)
"""Variables whose value an error message never repeats: secrets, and URLs holding a password."""


class Settings(BaseSettings):
    """Everything Patchbot reads from its environment."""

    model_config = SettingsConfigDict(
        extra="ignore", case_sensitive=False, populate_by_name=True, env_ignore_empty=True
    )

    app_id: int | None = Field(default=None, validation_alias="APP_ID", gt=0)
    """The GitHub App's numeric id (needed to act on GitHub)."""
    private_key: SecretStr | None = Field(default=None, validation_alias="PRIVATE_KEY")
    """The GitHub App's private key, PEM text; or use `PRIVATE_KEY_PATH`."""
    private_key_path: Path | None = Field(default=None, validation_alias="PRIVATE_KEY_PATH")
    """File holding the GitHub App's private key (PEM)."""
    webhook_secret: SecretStr | None = Field(default=None, validation_alias="WEBHOOK_SECRET")
    """Shared secret GitHub signs each webhook delivery with (HMAC-SHA256)."""
    database_url: str = Field(default="sqlite:///patchbot.db", validation_alias="DATABASE_URL")
    """Where runs and deliveries live: `sqlite:///FILE` (default) or `postgresql://...`."""
    model: str = Field(
        default="anthropic/claude-sonnet-4-5",
        validation_alias=AliasChoices("PATCHBOT_MODEL", "MODEL"),
    )
    """litellm model name the agent uses."""
    model_api_base: str | None = Field(default=None, validation_alias="PATCHBOT_MODEL_API_BASE")
    """Base URL of an OpenAI-compatible model server (a proxy, a local model, the demo's
    scripted model); unset uses the provider's own. Every command that calls the model
    (serve, worker, solve) sends its requests there and nowhere else."""
    model_api_key: SecretStr | None = Field(default=None, validation_alias="PATCHBOT_MODEL_API_KEY")
    """Key for the model provider; unset lets litellm read the provider's usual variable
    (e.g. ANTHROPIC_API_KEY). It stays in this process: never in the sandbox or a trace."""
    github_api_url: str = Field(default="https://api.github.com", validation_alias="GITHUB_API_URL")
    """Base URL of GitHub's REST API; set it for GitHub Enterprise Server or the simulator."""
    log_level: LogLevel | None = Field(default=None, validation_alias="LOG_LEVEL")
    """Lowest level of log line written; `--log-level` overrides it. Unset: INFO for the
    services (`serve`, `worker`), WARNING for the other commands, whose own output says what
    happens. Tracebacks are written only at DEBUG; at the other levels an error is one line
    with its reason."""
    log_format: Literal["text", "json"] = Field(default="text", validation_alias="LOG_FORMAT")
    """`text`: one readable line per event; `json`: one JSON object per line with `time`,
    `level`, `logger`, `message` and, when known, `delivery_id`, `run_id`, `repo`, `issue`."""
    linked_hosts: str | None = Field(default=None, validation_alias="PATCHBOT_LINK_HOSTS")
    """Comma-separated hosts that URLs in untrusted text Patchbot posts (the model's summary,
    issue text) may link to, their subdomains included; unset: the GitHub host of
    `GITHUB_API_URL`. Any other URL is shown, not linked; images never are."""
    data_dir: Path = Field(default=Path("patchbot-data"), validation_alias="PATCHBOT_DATA_DIR")
    """Folder for run traces (one JSON-lines file per run under `runs/`)."""
    trigger_label: str = Field(
        default="patchbot", validation_alias="PATCHBOT_TRIGGER_LABEL", min_length=1
    )
    """Label that, added to an issue, asks Patchbot to work on it (compared case-insensitively)."""
    command_prefix: str = Field(
        default="/patchbot", validation_alias="PATCHBOT_COMMAND_PREFIX", min_length=2
    )
    """Word that starts a slash command in a comment, e.g. `/patchbot fix`."""
    min_permission: Permission = Field(default="write", validation_alias="PATCHBOT_MIN_PERMISSION")
    """Least repository role a person needs to start or stop a run."""
    bot_login: str = Field(default="patchbot[bot]", validation_alias="PATCHBOT_BOT_LOGIN")
    """The App's own login; its comments and labels never trigger anything."""
    lease_seconds: float = Field(default=60.0, validation_alias="PATCHBOT_LEASE_SECONDS", gt=0)
    """How long a worker's claim on a run lasts without a heartbeat, in seconds."""
    poll_seconds: float = Field(default=1.0, validation_alias="PATCHBOT_POLL_SECONDS", gt=0)
    """How often an idle worker looks for queued runs, in seconds."""
    max_attempts: int = Field(default=3, validation_alias="PATCHBOT_MAX_ATTEMPTS", ge=1)
    """Claims of one run before a run whose workers keep dying is marked failed."""
    max_runs_per_repository: int = Field(
        default=2, validation_alias="PATCHBOT_MAX_RUNS_PER_REPOSITORY", ge=0
    )
    """Runs of one repository worked at once, by all workers together (0: no cap); more wait
    in the queue."""
    max_runs_per_installation: int = Field(
        default=8, validation_alias="PATCHBOT_MAX_RUNS_PER_INSTALLATION", ge=0
    )
    """Runs of one GitHub App installation (an account) worked at once (0: no cap)."""
    github_client_id: str | None = Field(default=None, validation_alias="GITHUB_CLIENT_ID")
    """The GitHub App's client id (its settings page, General): people sign in to the
    dashboard (`/ui/`) with GitHub through it."""
    github_client_secret: SecretStr | None = Field(
        default=None, validation_alias="GITHUB_CLIENT_SECRET"
    )
    """A client secret generated on the GitHub App's settings page; it also signs the
    dashboard's session cookies, so changing it signs everyone out."""
    public_url: str | None = Field(default=None, validation_alias="PATCHBOT_PUBLIC_URL")
    """Where people reach `patchbot serve`, e.g. `https://patchbot.example.com`: the dashboard's
    sign-in callback is built from it (behind a proxy, a request's own address is not)."""
    ui_token: SecretStr | None = Field(default=None, validation_alias="PATCHBOT_UI_TOKEN")
    """A token for machines reading the dashboard (`Authorization: Bearer TOKEN`): it sees
    every repository. Unset: only people signed in with GitHub get in."""
    ui_session_hours: float = Field(
        default=8.0, validation_alias="PATCHBOT_UI_SESSION_HOURS", gt=0, le=24
    )
    """Hours a dashboard sign-in lasts; then the person signs in again, and what they may
    read is asked of GitHub anew."""
    revision_delay: float = Field(default=3.0, validation_alias="PATCHBOT_REVISION_DELAY", ge=0)
    """Seconds a revision run waits after the latest review feedback before a worker takes
    it: a review with many line comments arrives as many webhooks, and becomes one run."""

    otlp_endpoint: str | None = Field(default=None, validation_alias="OTEL_EXPORTER_OTLP_ENDPOINT")
    """Base URL of an OpenTelemetry collector's OTLP/HTTP receiver, e.g.
    `http://127.0.0.1:4318`: each run attempt is sent to `ENDPOINT/v1/traces` as spans, and
    log lines about a run carry its `trace_id`. Unset: no spans, and the SDK is not loaded.
    The SDK's other `OTEL_EXPORTER_OTLP_*` variables (headers, timeout) apply."""

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise ValueError("must start with sqlite:/// or postgresql://")
        if value.startswith("postgres"):
            try:
                _ = urlsplit(value).port  # a port that is not a number raises here
            except ValueError as error:
                raise ValueError(f"not a valid PostgreSQL URL ({error})") from error
        return value

    @field_validator("github_api_url", "model_api_base", "otlp_endpoint", "public_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        return None if value is None else http_url(value)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the settings; a bad value raises ConfigError naming the variable and the fix."""
        try:
            if environ is None:
                return cls()
            values: dict[str, Any] = {
                key.upper(): value for key, value in environ.items() if value != ""
            }
            return _FromMapping(**values)
        except ValidationError as error:
            lines = []
            for problem in error.errors():
                name = _env_name(cls, str(problem["loc"][0]) if problem["loc"] else "?")
                fix = _HOW_TO_FIX.get(name, "see README.md, section Configuration.")
                shown = "" if name in _NOT_SHOWN else f"={str(problem['input'])[:80]!r}"
                reason = problem["msg"].removeprefix("Value error, ")
                lines.append(f"{name}{shown}: {reason}.\n  How to fix: {fix}")
            raise ConfigError("invalid configuration:\n" + "\n".join(lines)) from error

    @property
    def heartbeat_seconds(self) -> float:
        """A worker renews its lease this often: three chances before it expires, and at
        least every 5 s, so that `/patchbot stop` takes effect within seconds."""
        return min(self.lease_seconds / 3, 5.0)

    @property
    def github_web_url(self) -> str:
        """GitHub's web address for `GITHUB_API_URL`, where people sign in:
        `https://github.com` for `https://api.github.com`, `https://HOST` for
        `https://HOST/api/v3` (GitHub Enterprise Server, the simulator)."""
        parts = urlsplit(self.github_api_url)
        host = (
            (parts.hostname or "").removeprefix("api.") if parts.path in ("", "/") else parts.netloc
        )
        return f"{parts.scheme}://{host}"

    @property
    def link_hosts(self) -> tuple[str, ...]:
        """`PATCHBOT_LINK_HOSTS`, or the host of `GITHUB_API_URL` without its `api.`
        (`github.com` for `https://api.github.com`, `HOST` for `https://HOST/api/v3`)."""
        if self.linked_hosts is not None:
            return tuple(host.strip() for host in self.linked_hosts.split(",") if host.strip())
        host = urlsplit(self.github_api_url).hostname or ""
        return (host.removeprefix("api."),) if host else ()

    def require_webhook_secret(self) -> str:
        """The webhook secret, or ConfigError saying how to set one."""
        if self.webhook_secret is None or not self.webhook_secret.get_secret_value():
            raise ConfigError(
                "WEBHOOK_SECRET is not set; Patchbot refuses unsigned webhooks.\n"
                f"  How to fix: {_HOW_TO_FIX['WEBHOOK_SECRET']}"
            )
        return self.webhook_secret.get_secret_value()

    def require_app_credentials(self) -> tuple[int, str]:
        """(App ID, private key PEM), or ConfigError saying step by step what to set (both,
        when both are wrong)."""
        require_all(self._app_id, self._private_key_pem)
        return self._app_id(), self._private_key_pem()

    def _app_id(self) -> int:
        if self.app_id is None:
            raise ConfigError(f"APP_ID is not set.\n  How to fix: {_HOW_TO_FIX['APP_ID']}")
        return self.app_id

    def _private_key_pem(self) -> str:
        if self.private_key is not None:
            pem = self.private_key.get_secret_value().replace("\\n", "\n")
            source = "PRIVATE_KEY"
        elif self.private_key_path is not None:
            try:
                pem = self.private_key_path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as error:
                why = error.strerror if isinstance(error, OSError) else "not a text file"
                raise ConfigError(
                    f"PRIVATE_KEY_PATH={self.private_key_path} cannot be read ({why}).\n"
                    f"  How to fix: {_HOW_TO_FIX['PRIVATE_KEY']}"
                ) from error
            source = "PRIVATE_KEY_PATH"
        else:
            raise ConfigError(
                "neither PRIVATE_KEY nor PRIVATE_KEY_PATH is set.\n"
                f"  How to fix: {_HOW_TO_FIX['PRIVATE_KEY']}"
            )
        if "-----BEGIN" not in pem or "PRIVATE KEY-----" not in pem:
            raise ConfigError(
                f"{source} does not hold a PEM private key (no '-----BEGIN ... PRIVATE KEY-----'"
                f" line).\n  How to fix: {_HOW_TO_FIX['PRIVATE_KEY']}"
            )
        return pem

    def secrets(self) -> list[str]:
        """Secret values to redact from logs and traces."""
        held = (
            self.private_key,
            self.webhook_secret,
            self.model_api_key,
            self.github_client_secret,
            self.ui_token,
        )
        found = [s.get_secret_value() for s in held if s]
        return [value for value in found if value]


class _FromMapping(Settings):
    """Settings from an explicit mapping only (tests, subprocess set-ups), not os.environ."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def http_url(value: str) -> str:
    """`value` without a trailing slash; ValueError unless it is an http(s) URL."""
    if not value.startswith(("http://", "https://")):
        raise ValueError("must be an http:// or https:// URL")
    return value.rstrip("/")


def require_all(*requirements: Callable[[], object]) -> None:
    """Call each requirement; raise one ConfigError holding every failure's message, so that
    a start-up reports all that is wrong at once instead of one problem per restart."""
    problems = []
    for requirement in requirements:
        try:
            requirement()
        except ConfigError as error:
            problems.append(str(error))
    if problems:
        raise ConfigError("\n".join(problems))


def _env_name(model: type[BaseSettings], field: str) -> str:
    info = model.model_fields.get(field)
    alias = info.validation_alias if info else None
    if isinstance(alias, str):
        return alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return field.upper()


def permission_at_least(have: str, need: str) -> bool:
    """Whether GitHub role `have` is at least role `need` (unknown roles count as none)."""
    rank = {name: index for index, name in enumerate(PERMISSION_ORDER)}
    return rank.get(have, 0) >= rank[need]

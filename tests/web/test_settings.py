"""Settings come from the environment; a bad value names the variable and how to fix it."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.runs.store import open_store
from bot.settings import Settings, permission_at_least, require_all


def test_defaults_need_only_the_secret() -> None:
    settings = Settings.from_env({"WEBHOOK_SECRET": "s3cret-value"})
    assert settings.database_url.startswith("sqlite:///")
    assert settings.github_api_url == "https://api.github.com"
    assert (settings.trigger_label, settings.command_prefix) == ("patchbot", "/patchbot")
    assert settings.min_permission == "write"
    assert settings.require_webhook_secret() == "s3cret-value"


def test_environment_is_read_when_no_mapping_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATCHBOT_TRIGGER_LABEL", "autofix")
    monkeypatch.setenv("GITHUB_API_URL", "http://127.0.0.1:8080/api/v3/")
    settings = Settings.from_env()
    assert settings.trigger_label == "autofix"
    assert settings.github_api_url == "http://127.0.0.1:8080/api/v3"


def test_every_bad_value_is_named_with_its_fix_in_one_message() -> None:
    with pytest.raises(ConfigError) as bad:
        Settings.from_env(
            {
                "APP_ID": "my-app",
                "DATABASE_URL": "mysql://patchbot:hunter2secret@db",
                "PATCHBOT_MIN_PERMISSION": "owner",
                "PATCHBOT_LEASE_SECONDS": "0",
                "LOG_LEVEL": "bogus",
                "LOG_FORMAT": "xml",
                "PATCHBOT_MODEL_API_BASE": "localhost:8000",
            }
        )
    message = str(bad.value)
    for shown in (
        "APP_ID='my-app'",
        "DATABASE_URL:",
        "PATCHBOT_MIN_PERMISSION='owner'",
        "PATCHBOT_LEASE_SECONDS='0'",
        "LOG_LEVEL='BOGUS'",
        "LOG_FORMAT='xml'",
        "PATCHBOT_MODEL_API_BASE='localhost:8000'",
    ):
        assert shown in message
    assert message.count("How to fix") == 7
    assert "hunter2secret" not in message  # a URL's password is never repeated
    assert "Value error" not in message


def test_blank_variables_count_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    blank = {"APP_ID": "", "PATCHBOT_MODEL_API_BASE": "", "PATCHBOT_MODEL": "", "LOG_LEVEL": ""}
    for name, value in blank.items():
        monkeypatch.setenv(name, value)
    for settings in (Settings.from_env(), Settings.from_env(blank)):
        assert settings.app_id is None and settings.model_api_base is None
        assert settings.model == "anthropic/claude-sonnet-4-5" and settings.log_level is None


@pytest.mark.parametrize(
    "url", ["postgresql://patchbot@db:notaport/patchbot", "postgresql://[", "redis://cache"]
)
def test_a_database_url_that_cannot_be_parsed_is_a_configuration_error(url: str) -> None:
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        Settings.from_env({"DATABASE_URL": url})


def test_missing_secret_and_app_credentials_explain_the_steps(tmp_path: Path) -> None:
    settings = Settings.from_env({})
    with pytest.raises(ConfigError, match="WEBHOOK_SECRET is not set"):
        settings.require_webhook_secret()
    with pytest.raises(ConfigError) as missing:
        settings.require_app_credentials()
    assert "APP_ID is not set" in str(missing.value)  # both, in one message
    assert "neither PRIVATE_KEY nor PRIVATE_KEY_PATH is set" in str(missing.value)
    with pytest.raises(ConfigError, match=r"PRIVATE_KEY_PATH=.* cannot be read"):
        Settings.from_env(
            {"APP_ID": "1", "PRIVATE_KEY_PATH": str(tmp_path / "missing.pem")}
        ).require_app_credentials()


@pytest.mark.parametrize("kind", ["directory", "binary"])
def test_an_unreadable_key_file_is_named_with_the_steps(tmp_path: Path, kind: str) -> None:
    key = tmp_path / "key.pem"
    if kind == "directory":
        key.mkdir()
    else:
        key.write_bytes(b"\xff\xfe\x00\x81")
    settings = Settings.from_env({"APP_ID": "1", "PRIVATE_KEY_PATH": str(key)})
    with pytest.raises(ConfigError) as bad:
        settings.require_app_credentials()
    assert f"PRIVATE_KEY_PATH={key} cannot be read" in str(bad.value)
    assert "Generate a private key" in str(bad.value)


def test_require_all_reports_every_failure_at_once() -> None:
    def fails(message: str) -> None:
        raise ConfigError(message)

    with pytest.raises(ConfigError) as bad:
        require_all(lambda: fails("A is wrong"), lambda: None, lambda: fails("B is wrong"))
    assert str(bad.value) == "A is wrong\nB is wrong"
    require_all(lambda: None)


def test_private_key_with_escaped_newlines_is_accepted() -> None:
    pem = "-----BEGIN RSA PRIVATE KEY-----\\nabc\\n-----END RSA PRIVATE KEY-----"
    app_id, key = Settings.from_env({"APP_ID": "7", "PRIVATE_KEY": pem}).require_app_credentials()
    assert app_id == 7 and "\n" in key and "\\n" not in key


def test_secrets_are_listed_for_redaction() -> None:
    settings = Settings.from_env({"WEBHOOK_SECRET": "whsec-123456789"})
    assert "whsec-123456789" in settings.secrets()
    assert "whsec-123456789" not in repr(settings)


@pytest.mark.parametrize(
    ("have", "need", "allowed"),
    [
        ("admin", "write", True),
        ("maintain", "write", True),
        ("write", "write", True),
        ("triage", "write", False),
        ("read", "write", False),
        ("none", "read", False),
        ("custom-role", "read", False),
    ],
)
def test_permission_order(have: str, need: str, allowed: bool) -> None:
    assert permission_at_least(have, need) is allowed


async def test_unreachable_database_names_database_url_without_its_password() -> None:
    with pytest.raises(ConfigError) as bad:
        await open_store("postgresql://patchbot:hunter2secret@127.0.0.1:9/patchbot")
    assert "DATABASE_URL" in str(bad.value) and "hunter2secret" not in str(bad.value)

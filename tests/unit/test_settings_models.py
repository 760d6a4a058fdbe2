"""The settings models of brandpulse/core/settings.py: defaults, parsing from the
environment, errors that name the variable and never echo its value, secrets
masked in repr."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from brandpulse.core.settings import (
    REPO_ROOT,
    KibanaSettings,
    LocalSettings,
    Settings,
    SmtpSettings,
    WebhookSettings,
    describe_error,
)

MARKER = "mkSettings4711"

PREFIXES = ("ES_", "BRANDPULSE_", "KIBANA_")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    import os

    for name in list(os.environ):
        if name.startswith(PREFIXES):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", "/home/tester")
    return monkeypatch


def invalid(model: type, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """The error of `model()` read from `env`: (str of the ValidationError, describe_error)."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ValidationError) as info:
        model.load()
    return str(info.value), describe_error(info.value)


# -- LocalSettings / Settings ---------------------------------------------------------


def test_local_settings_defaults() -> None:
    local = LocalSettings.load()
    assert local.es_port == 9200
    assert local.state_dir == REPO_ROOT / ".state"
    assert local.cache_dir == Path("/home/tester/.cache/brandpulse")
    assert local.torch_threads == 1
    assert (local.es_heap, local.es_java_opts) == ("512m:1g", "")


def test_local_settings_from_the_environment(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("BRANDPULSE_ES_PORT", "9250")
    clean_env.setenv("BRANDPULSE_STATE_DIR", "~/state")
    clean_env.setenv("BRANDPULSE_CACHE_DIR", "~/cache")
    clean_env.setenv("BRANDPULSE_TORCH_THREADS", "4")
    clean_env.setenv("BRANDPULSE_ES_HEAP", "2g")
    clean_env.setenv("BRANDPULSE_ES_JAVA_OPTS", "-Dx=1 -Dy=2")
    local = LocalSettings.load()
    assert local.es_port == 9250
    assert local.state_dir == Path("/home/tester/state")
    assert local.cache_dir == Path("/home/tester/cache")
    assert local.torch_threads == 4
    assert (local.es_heap, local.es_java_opts) == ("2g", "-Dx=1 -Dy=2")


def test_empty_local_variables_mean_their_defaults(clean_env: pytest.MonkeyPatch) -> None:
    for name in (
        "BRANDPULSE_ES_PORT",
        "BRANDPULSE_CACHE_DIR",
        "BRANDPULSE_TORCH_THREADS",
        "BRANDPULSE_ES_HEAP",
    ):
        clean_env.setenv(name, "")
    assert LocalSettings.load() == LocalSettings.load({})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("BRANDPULSE_TORCH_THREADS", f"{MARKER}"),
        ("BRANDPULSE_TORCH_THREADS", "0"),
        ("BRANDPULSE_ES_PORT", f"9{MARKER}"),
        ("BRANDPULSE_ES_HEAP", f"1g:{MARKER}"),
    ],
)
def test_local_settings_errors_name_the_variable(name, value, clean_env) -> None:
    text, short = invalid(LocalSettings, {name: value}, clean_env)
    assert name in text and short.startswith(f"{name}: ")
    assert MARKER not in text and MARKER not in short


def test_settings_include_the_local_ones_and_the_cluster(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("BRANDPULSE_TORCH_THREADS", "2")
    clean_env.setenv("ES_URL", "https://es.example.com:9200")
    clean_env.setenv("ES_USERNAME", "elastic")
    clean_env.setenv("ES_PASSWORD", MARKER)
    clean_env.setenv("BRANDPULSE_BULK_CHUNK", "100")
    settings = Settings()
    assert settings.torch_threads == 2 and settings.bulk_chunk_size == 100
    assert settings.es_password.get_secret_value() == MARKER
    assert MARKER not in repr(settings) and MARKER not in str(settings)


def test_settings_errors_hide_the_value(clean_env: pytest.MonkeyPatch) -> None:
    text, short = invalid(Settings, {"BRANDPULSE_BULK_CHUNK": MARKER}, clean_env)
    assert "BRANDPULSE_BULK_CHUNK" in short and MARKER not in text
    clean_env.delenv("BRANDPULSE_BULK_CHUNK")
    text, short = invalid(Settings, {"ES_PASSWORD": MARKER}, clean_env)
    assert "ES_USERNAME and ES_PASSWORD" in short and MARKER not in text


# -- SmtpSettings -----------------------------------------------------------------------


def test_smtp_settings_defaults() -> None:
    smtp = SmtpSettings.load()
    assert smtp.host is None and smtp.port is None and smtp.password is None
    assert (smtp.security, smtp.sender, smtp.timeout_s, smtp.retries, smtp.verify) == (
        "starttls",
        "brandpulse@localhost",
        30.0,
        3,
        True,
    )


def test_smtp_settings_from_the_environment(clean_env: pytest.MonkeyPatch) -> None:
    env = {
        "BRANDPULSE_SMTP_HOST": "mail.example.org",
        "BRANDPULSE_SMTP_PORT": "2525",
        "BRANDPULSE_SMTP_SECURITY": "ssl",
        "BRANDPULSE_SMTP_USER": "alerts",
        "BRANDPULSE_SMTP_PASSWORD": MARKER,
        "BRANDPULSE_SMTP_FROM": "alerts@example.org",
        "BRANDPULSE_SMTP_TIMEOUT": "5.5",
        "BRANDPULSE_SMTP_RETRIES": "0",
        "BRANDPULSE_SMTP_VERIFY": "false",
        "BRANDPULSE_SMTP_CA_FILE": "/etc/ca.pem",
        "BRANDPULSE_SMTP_UNRELATED": "ignored",
    }
    for key, value in env.items():
        clean_env.setenv(key, value)
    smtp = SmtpSettings.load()
    assert smtp == SmtpSettings.load(env)  # an explicit mapping reads the same
    assert (smtp.host, smtp.port, smtp.security, smtp.user) == ("mail.example.org", 2525, "ssl", "alerts")
    assert (smtp.sender, smtp.timeout_s, smtp.retries, smtp.verify) == ("alerts@example.org", 5.5, 0, False)
    assert smtp.ca_file == "/etc/ca.pem"
    assert smtp.password.get_secret_value() == MARKER
    assert MARKER not in repr(smtp) and MARKER not in str(smtp.model_dump())


def test_empty_smtp_variables_are_unset() -> None:
    smtp = SmtpSettings.load(
        {"BRANDPULSE_SMTP_HOST": "", "BRANDPULSE_SMTP_PORT": "", "BRANDPULSE_SMTP_VERIFY": ""}
    )
    assert smtp == SmtpSettings.load({})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("BRANDPULSE_SMTP_PORT", f"25{MARKER}"),
        ("BRANDPULSE_SMTP_PORT", "70000"),
        ("BRANDPULSE_SMTP_SECURITY", MARKER),
        ("BRANDPULSE_SMTP_VERIFY", MARKER),
        ("BRANDPULSE_SMTP_TIMEOUT", "0"),
        ("BRANDPULSE_SMTP_RETRIES", "-1"),
    ],
)
def test_smtp_errors_name_the_variable_and_hide_the_value(name, value, clean_env) -> None:
    text, short = invalid(SmtpSettings, {"BRANDPULSE_SMTP_PASSWORD": MARKER, name: value}, clean_env)
    assert short.startswith(f"{name}: ")
    assert MARKER not in text and MARKER not in short


def test_smtp_config_from_env_reports_the_variable_not_the_value() -> None:
    from alerts.notifiers import DeliveryError, SmtpConfig

    with pytest.raises(DeliveryError, match="BRANDPULSE_SMTP_PORT") as info:
        SmtpConfig.from_env({"BRANDPULSE_SMTP_HOST": "h", "BRANDPULSE_SMTP_PORT": MARKER})
    assert MARKER not in str(info.value)
    with pytest.raises(DeliveryError, match="BRANDPULSE_SMTP_HOST is not set"):
        SmtpConfig.from_env({"BRANDPULSE_SMTP_PORT": "25"})


def test_smtp_config_resolve_reads_the_process_environment(clean_env: pytest.MonkeyPatch) -> None:
    from alerts.notifiers import DeliveryError, SmtpConfig

    with pytest.raises(DeliveryError, match="no SMTP settings"):
        SmtpConfig.resolve()
    clean_env.setenv("BRANDPULSE_SMTP_HOST", "mail.example.org")
    clean_env.setenv("BRANDPULSE_SMTP_SECURITY", "none")
    clean_env.setenv("BRANDPULSE_SMTP_PASSWORD", MARKER)
    clean_env.setenv("BRANDPULSE_SMTP_USER", "u")
    config = SmtpConfig.resolve("ignored_connection")
    assert (config.host, config.effective_port, config.username) == ("mail.example.org", 25, "u")
    assert config.password.get_secret_value() == MARKER and MARKER not in repr(config)


# -- WebhookSettings ------------------------------------------------------------------


def test_webhook_settings(clean_env: pytest.MonkeyPatch) -> None:
    assert WebhookSettings.load().url is None
    assert WebhookSettings.load({"BRANDPULSE_WEBHOOK_URL": ""}).url is None
    url = f"https://hooks.slack.com/services/T0/B0/{MARKER}"
    clean_env.setenv("BRANDPULSE_WEBHOOK_URL", url)
    webhook = WebhookSettings.load()
    assert webhook.url.get_secret_value() == url
    assert MARKER not in repr(webhook) and MARKER not in str(webhook.model_dump())


def test_webhook_errors_name_the_variable_and_hide_the_value(clean_env: pytest.MonkeyPatch) -> None:
    text, short = invalid(WebhookSettings, {"BRANDPULSE_WEBHOOK_URL": f"hooks.slack.com/{MARKER}"}, clean_env)
    assert short.startswith("BRANDPULSE_WEBHOOK_URL: ")
    assert MARKER not in text

    from alerts.notifiers import DeliveryError, WebhookNotifier

    with pytest.raises(DeliveryError, match="BRANDPULSE_WEBHOOK_URL") as info:
        WebhookNotifier()
    assert MARKER not in str(info.value)


def test_webhook_notifier_reads_the_url_from_the_environment(clean_env: pytest.MonkeyPatch) -> None:
    from alerts.notifiers import DeliveryError, WebhookNotifier

    with pytest.raises(DeliveryError, match="no webhook URL"):
        WebhookNotifier()
    clean_env.setenv("BRANDPULSE_WEBHOOK_URL", f"https://hooks.example.org/{MARKER}")
    notifier = WebhookNotifier()
    assert MARKER not in repr(vars(notifier))


# -- KibanaSettings -------------------------------------------------------------------


def test_kibana_settings(clean_env: pytest.MonkeyPatch) -> None:
    empty = KibanaSettings.load()
    assert (empty.api_key, empty.username, empty.password) == (None, None, None)
    clean_env.setenv("KIBANA_API_KEY", MARKER)
    clean_env.setenv("KIBANA_USERNAME", "")
    kibana = KibanaSettings.load()
    assert kibana.api_key.get_secret_value() == MARKER and kibana.username is None
    assert MARKER not in repr(kibana)
    basic = KibanaSettings.load({"KIBANA_USERNAME": "analyst", "KIBANA_PASSWORD": MARKER})
    assert basic.username == "analyst" and MARKER not in repr(basic)


def test_kibana_half_basic_auth_is_an_error_without_the_value(clean_env: pytest.MonkeyPatch) -> None:
    text, short = invalid(KibanaSettings, {"KIBANA_PASSWORD": MARKER}, clean_env)
    assert "KIBANA_USERNAME and KIBANA_PASSWORD must be set together" in short
    assert MARKER not in text

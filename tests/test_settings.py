"""Settings: TOML file, then OPENAMI_* environment, then command-line options."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from openami.settings import Settings, SettingsError, load_settings


def test_file_then_environment_then_options(tmp_path: Path) -> None:
    config = tmp_path / "openami.toml"
    config.write_text('[openami]\nport = 9000\nmeters = 50\ndata_dir = "/srv/a"\nspeed = 2.5\n')
    settings = load_settings(
        config,
        env={"OPENAMI_PORT": "9100", "OPENAMI_START": "2026-11-01", "OPENAMI_LOG_JSON": "yes"},
        overrides={"meters": 70, "host": None},
    )
    assert settings.port == 9100  # the environment over the file
    assert settings.meters == 70  # an option over both
    assert settings.host == "127.0.0.1"  # None options leave the default
    assert settings.data_dir == Path("/srv/a") and settings.speed == 2.5
    assert settings.start == date(2026, 11, 1) and settings.log_json is True


def test_lists_come_from_toml_arrays_or_comma_separated_variables(tmp_path: Path) -> None:
    config = tmp_path / "openami.toml"
    config.write_text('trusted_proxies = ["10.0.0.1", "10.0.0.2"]\n')
    assert load_settings(config, env={}).trusted_proxies == ("10.0.0.1", "10.0.0.2")
    env = {"OPENAMI_TRUSTED_PROXIES": "192.0.2.1, 192.0.2.0/28"}
    assert load_settings(None, env=env).trusted_proxies == ("192.0.2.1", "192.0.2.0/28")


def test_top_level_keys_work_without_a_table(tmp_path: Path) -> None:
    config = tmp_path / "openami.toml"
    config.write_text('db_url = "postgresql+psycopg://u@h/db"\n')
    assert load_settings(config, env={}).db_url == "postgresql+psycopg://u@h/db"


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        ("[openami]\nprot = 1\n", {}, "unknown setting(s) prot"),
        ("[openami]\nport = 'x'\n", {}, "port from"),
        ("[openami]\nport = 70000\n", {}, "port must be 1-65535"),
        ("[openami]\nmeters = 1.5\n", {}, "not a whole number"),
        ("", {"OPENAMI_LOG_JSON": "maybe"}, "OPENAMI_LOG_JSON"),
        ("", {"OPENAMI_START": "yesterday"}, "OPENAMI_START"),
        ("[openami]\ntls_cert = '/c.pem'\n", {}, "tls_cert and tls_key go together"),
        ("port = [", {}, "not valid TOML"),
    ],
)
def test_bad_settings_are_refused_naming_the_key(
    tmp_path: Path, text: str, env: dict[str, str], message: str
) -> None:
    config = tmp_path / "openami.toml"
    config.write_text(text)
    with pytest.raises(SettingsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_settings(config, env=env)


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="cannot read the configuration file"):
        load_settings(tmp_path / "nope.toml", env={})


def test_secrets_are_masked_when_shown() -> None:
    shown = Settings(operator_password="hunter2", metrics_token="t0k").shown()
    assert shown["operator_password"] == "********" and shown["metrics_token"] == "********"
    assert "hunter2" not in str(shown)


def test_the_bus_url_comes_from_the_environment_and_is_checked() -> None:
    settings = load_settings(None, env={"OPENAMI_BUS_URL": "nats://127.0.0.1:4222"})
    assert settings.bus_url == "nats://127.0.0.1:4222"
    assert load_settings(None, env={}).bus_url is None  # in-process by default
    with pytest.raises(SettingsError, match="bus_url must start with"):
        load_settings(None, env={"OPENAMI_BUS_URL": "http://127.0.0.1:4222"})
    with pytest.raises(SettingsError, match="bus_partitions"):
        load_settings(None, env={"OPENAMI_BUS_PARTITIONS": "0"})


def test_passwords_in_urls_are_masked_when_shown() -> None:
    shown = Settings(bus_url="nats://svc:s3cret@nats:4222").shown()
    assert shown["bus_url"] == "nats://svc:********@nats:4222"
    assert "s3cret" not in str(Settings(db_url="postgresql+psycopg://u:s3cret@h/db").shown())

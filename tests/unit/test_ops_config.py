"""Issue 17's settings: log format and level, the metrics scrape token."""

import pytest

from marketplace.config import ConfigError, LogFormat, Settings


def test_logs_are_json_at_info_and_metrics_off_by_default():
    settings = Settings.from_env({})
    assert (settings.log_format, settings.log_level) == (LogFormat.JSON, "INFO")
    assert settings.metrics_token is None


def test_log_and_metrics_settings_are_read():
    settings = Settings.from_env(
        {"LOG_FORMAT": "text", "LOG_LEVEL": "warning", "METRICS_TOKEN": "t" * 16}
    )
    assert (settings.log_format, settings.log_level) == (LogFormat.TEXT, "WARNING")
    assert settings.metrics_token == "t" * 16


@pytest.mark.parametrize(
    ("environ", "variable"),
    [
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT"),
        ({"LOG_LEVEL": "loud"}, "LOG_LEVEL"),
        ({"METRICS_TOKEN": "short"}, "METRICS_TOKEN"),
        (
            {
                "MARKETPLACE_ENV": "production",
                "SECRET_KEY": "k" * 40,
                "AUDIT_SIGNING_KEY": "a" * 40,
                "PARTY_HASH_KEY": "p" * 32,
                "SECRET_KEY_FALLBACKS": "x",
            },
            "SECRET_KEY_FALLBACKS",
        ),
    ],
)
def test_bad_values_name_the_variable(environ, variable):
    with pytest.raises(ConfigError, match=f"^{variable}:"):
        Settings.from_env(environ)


def test_secret_key_fallbacks_are_a_list():
    settings = Settings.from_env({"SECRET_KEY_FALLBACKS": " a" * 1 + "," + "b , ,"})
    assert settings.secret_key_fallbacks == ("a", "b")

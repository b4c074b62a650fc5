import pytest

from cost_sentry.core.settings import Settings, SettingsError

BASE = {"LEDGER_TABLE": "ledger", "CONFIG_TABLE": "config"}


def test_defaults():
    settings = Settings.from_env(BASE)
    assert settings.metrics_namespace == "GenAIRateLimiting"
    assert settings.max_body_bytes == 262_144
    assert settings.config_refresh_seconds == 300
    assert settings.profile_resolver == "static"
    assert not settings.per_user_sessions
    assert not settings.log_prompts


def test_values_are_parsed():
    settings = Settings.from_env(
        {
            **BASE,
            "LOG_PROMPTS": "TRUE",
            "MAX_BODY_BYTES": "1000",
            "PROFILE_RESOLVER": "dynamic",
            "PER_USER_SESSIONS": "true",
            "MAX_REQUEST_SECONDS": "30",
        }
    )
    assert settings.log_prompts and settings.per_user_sessions
    assert settings.max_body_bytes == 1000
    assert settings.profile_resolver == "dynamic"
    assert settings.hold_lifetime_seconds > 30


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CONFIG_TABLE": "c"}, "LEDGER_TABLE"),
        ({**BASE, "LOG_PROMPTS": "maybe"}, "LOG_PROMPTS"),
        ({**BASE, "MAX_BODY_BYTES": "-1"}, "MAX_BODY_BYTES"),
        ({**BASE, "MAX_BODY_BYTES": "lots"}, "MAX_BODY_BYTES"),
        ({**BASE, "PROFILE_RESOLVER": "magic"}, "PROFILE_RESOLVER"),
    ],
)
def test_bad_environment_names_the_variable(env, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


def test_each_route_gets_its_own_generation_time_limit():
    defaults = Settings.from_env(BASE)
    # /v1/converse: API Gateway's default 29 s less the gateway's 2 s; streams: the function's 120 s - 2.
    assert (defaults.generation_limit_seconds(False), defaults.generation_limit_seconds(True)) == (27, 118)
    raised = Settings.from_env(
        {
            **BASE,
            "CONVERSE_TIMEOUT_SECONDS": "90",
            "STREAM_TIMEOUT_SECONDS": "600",
            "MAX_REQUEST_SECONDS": "300",
        }
    )
    # Never past the function timeout, whatever API Gateway allows.
    assert (raised.generation_limit_seconds(False), raised.generation_limit_seconds(True)) == (88, 298)


def test_limits_that_leave_the_model_no_time_are_refused_at_cold_start():
    with pytest.raises(SettingsError, match="CONVERSE_TIMEOUT_SECONDS"):
        Settings.from_env({**BASE, "CONVERSE_TIMEOUT_SECONDS": "2"})

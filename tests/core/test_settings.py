import pytest

from cost_sentry.core.settings import DEFAULT_GATEWAY_THREADS, ServerSettings, Settings, SettingsError

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


def test_every_model_route_gets_the_streaming_functions_time_limit():
    defaults = Settings.from_env(
        {name: value for name, value in BASE.items() if name != "MAX_REQUEST_SECONDS"}
    )
    # Every model route runs in the streaming integration: the function's 300 s less the gateway's 2 s.
    assert defaults.generation_limit_seconds() == 298
    raised = Settings.from_env({**BASE, "STREAM_TIMEOUT_SECONDS": "600", "MAX_REQUEST_SECONDS": "300"})
    # Never past the function timeout, whatever API Gateway allows.
    assert raised.generation_limit_seconds() == 298


def test_limits_that_leave_the_model_no_time_are_refused_at_cold_start():
    with pytest.raises(SettingsError, match="MAX_REQUEST_SECONDS"):
        Settings.from_env({**BASE, "MAX_REQUEST_SECONDS": "2"})


def test_each_default_is_written_once_so_a_constructed_settings_equals_the_parsed_one():
    # Settings built in code (tests, the local stack) and from an empty environment cannot drift apart.
    assert Settings.from_env(BASE) == Settings(ledger_table="ledger", config_table="config")


def test_blank_values_mean_the_default():
    blank = {**BASE, "MAX_REQUEST_SECONDS": " ", "LOG_PROMPTS": "", "PROFILE_RESOLVER": ""}
    assert Settings.from_env(blank) == Settings.from_env(BASE)


def test_a_missing_variable_is_named_with_what_it_is():
    with pytest.raises(SettingsError, match=r"LEDGER_TABLE \(the ledger table's name\)"):
        Settings.from_env({"CONFIG_TABLE": "c"})


def test_every_function_that_builds_a_ledger_shares_the_gateways_hold_lifetime():
    from cost_sentry.adapters.ledger import Ledger
    from cost_sentry.core.settings import BudgetSettings, LedgerSettings

    environment = {**BASE, "MAX_REQUEST_SECONDS": "240", "BUDGET_NAME_PREFIX": "cs"}
    gateway = Settings.from_env(environment)
    assert gateway.hold_lifetime_seconds == 270
    for settings in (LedgerSettings.from_env(environment), BudgetSettings.from_env(environment)):
        assert settings.hold_lifetime_seconds == gateway.hold_lifetime_seconds
        ledger = Ledger.for_settings(object(), settings)
        assert ledger.reserve.__self__._hold_lifetime == 270


def test_the_containers_thread_pool_is_sized_from_the_environment():
    assert ServerSettings.from_env({}).threads == DEFAULT_GATEWAY_THREADS
    assert ServerSettings.from_env({"GATEWAY_THREADS": "16"}).threads == 16
    for bad in ("0", "many"):
        with pytest.raises(SettingsError, match="GATEWAY_THREADS"):
            ServerSettings.from_env({"GATEWAY_THREADS": bad})

"""``XP_API_KEYS`` entries bind a key to an environment; ``XP_FEATURES_DIR`` and its default."""

from __future__ import annotations

import pytest

from xp.settings import Settings, SettingsError, parse_api_keys, parse_key_environments


def test_keys_name_an_environment_or_get_production() -> None:
    text = "a:sdk,b:sdk:staging,c:viewer:dev-eu_1,d:e:admin,f:g:sdk:qa"
    assert parse_api_keys(text) == {
        "a": "sdk",
        "b": "sdk",
        "c": "viewer",
        "d:e": "admin",
        "f:g": "sdk",
    }
    assert parse_key_environments(text) == {
        "a": "production",
        "b": "staging",
        "c": "dev-eu_1",
        "d:e": "production",
        "f:g": "qa",
    }
    settings = Settings.from_env({"XP_API_KEYS": text})
    assert settings.key_environments["b"] == "staging"
    assert Settings().replace(api_keys="k:sdk:staging").key_environments == {"k": "staging"}


@pytest.mark.parametrize(
    "text", ["k:sdk:Staging", "k:sdk:", "k:owner:prod", "k:sdk:" + "e" * 33, ":sdk:prod", "k"]
)
def test_a_bad_entry_stops_the_start_naming_the_form(text: str) -> None:
    with pytest.raises(SettingsError, match="KEY:SCOPE:ENVIRONMENT"):
        parse_api_keys(text)


def test_the_features_folder_defaults_beside_the_experiments() -> None:
    assert Settings().features_path == "features"
    assert Settings(experiments_dir="/srv/xp/experiments").features_path == "/srv/xp/features"
    assert Settings(experiments_dir="/srv/xp/experiments/").features_path == "/srv/xp/features"
    assert Settings.from_env({"XP_FEATURES_DIR": "/etc/flags"}).features_path == "/etc/flags"

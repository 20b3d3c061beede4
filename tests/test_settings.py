"""Settings: defaults, SESSIONS_* variables, flags, validation, and the README lists them all."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.cli import _parser
from service.settings import Settings

README = Path(__file__).resolve().parent.parent / "README.md"


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert (settings.host, settings.port, settings.db) == ("127.0.0.1", 8558, "data/sessions.db")
    assert settings.max_body_bytes == 16 * 1024 * 1024
    assert settings.max_entry_bytes == 256 * 1024
    assert (settings.max_batch_entries, settings.default_page, settings.max_page) == (
        10_000,
        1_000,
        10_000,
    )


def test_environment_then_overrides() -> None:
    env = {
        "SESSIONS_PORT": "9000",
        "SESSIONS_DB": "x.db",
        "SESSIONS_ALLOWED_ORIGINS": "http://a:1, http://b",
        "SESSIONS_ACCESS_LOG": "yes",
    }
    settings = Settings.from_env(env, db="y.db")
    assert settings.port == 9000 and settings.db == "y.db" and settings.access_log is True
    assert settings.allowed_origins == ("http://a:1", "http://b")


@pytest.mark.parametrize(
    "env", [{"SESSIONS_PORT": "many"}, {"SESSIONS_PORT": "70000"}, {"SESSIONS_MAX_PAGE": "0"}]
)
def test_bad_values_are_refused(env: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="Invalid setting"):
        Settings.from_env(env)


def test_every_setting_is_a_flag_of_serve() -> None:
    args = _parser().parse_args(["serve", "--port", "1", "--max-page", "7", "--access-log"])
    assert (args.port, args.max_page, args.access_log) == (1, 7, True)
    for name in Settings.__struct_fields__:
        assert hasattr(args, name), name


def test_readme_documents_every_setting() -> None:
    readme = README.read_text()
    for name in Settings.__struct_fields__:
        assert f"SESSIONS_{name.upper()}" in readme, name
        assert f"--{name.replace('_', '-')}" in readme, name

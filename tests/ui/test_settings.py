"""Settings: defaults < config file < WENDA_* variables < flags, with messages that name the bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from ui.__main__ import main
from ui.settings import (
    SAMPLE_EXAMPLES,
    SAMPLE_PLACEHOLDERS,
    Settings,
    SettingsError,
    load_settings,
    normalise_origin,
)

CONFIG = """
host = "0.0.0.0"
port = 9000
index = "indexes/news"
allowed_origins = ["https://news.example.com/", "http://127.0.0.1:8000"]
feedback_log = "var/feedback.jsonl"
top_k = 7
concurrency = 2
examples = ["峰会在哪里举行？", "贸易额是多少？"]
"""


@pytest.fixture
def config(tmp_path) -> Path:
    path = tmp_path / "wenda.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def test_defaults():
    settings = load_settings({}, environ={})
    assert settings == Settings()
    assert (settings.host, settings.port, settings.top_k, settings.concurrency) == ("127.0.0.1", 7860, 5, 16)
    assert settings.allowed_origins == () and settings.feedback_log is None and settings.index is None
    assert settings.feedback is True and settings.theme == "auto"
    assert settings.chat_examples == SAMPLE_EXAMPLES


def test_config_file_sets_everything_with_paths_relative_to_it(config):
    settings = load_settings({}, environ={}, config=config)
    assert (
        settings.host == "0.0.0.0"
        and settings.port == 9000
        and settings.top_k == 7
        and settings.concurrency == 2
    )
    assert settings.index == config.parent / "indexes/news"
    assert settings.feedback_log == config.parent / "var/feedback.jsonl"
    assert settings.allowed_origins == ("https://news.example.com", "http://127.0.0.1:8000")
    assert settings.chat_examples == ("峰会在哪里举行？", "贸易额是多少？")


def test_environment_overrides_the_file_and_flags_override_both(config):
    environ = {
        "WENDA_CONFIG": str(config),
        "WENDA_PORT": "9100",
        "WENDA_TOP_K": "3",
        "WENDA_ALLOWED_ORIGINS": "https://a.example, https://b.example",
        "WENDA_EXAMPLES": "问一|问二",
    }
    settings = load_settings({"port": 9200, "top_k": None}, environ=environ)
    assert settings.port == 9200  # flag
    assert settings.top_k == 3  # environment (the flag was not given)
    assert settings.concurrency == 2  # config file named by WENDA_CONFIG
    assert settings.allowed_origins == ("https://a.example", "https://b.example")
    assert settings.examples == ("问一", "问二")


def test_own_index_gets_no_sample_examples_unless_given(tmp_path):
    assert Settings(index=tmp_path).chat_examples == ()
    assert Settings(index=tmp_path, examples=("问？",)).chat_examples == ("问？",)


@pytest.mark.parametrize(
    ("origin", "expected"),
    [
        ("https://News.Example.com/", "https://news.example.com"),
        ("https://x.example:443", "https://x.example"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("*", "*"),
        ("'self'", ""),
    ],
)
def test_origins_are_normalised(origin, expected):
    assert normalise_origin(origin) == expected


@pytest.mark.parametrize(
    "origin",
    ["news.example.com", "https://news.example.com/page", "ftp://x.example", "https://x.example?a=1"],
)
def test_a_bad_origin_is_refused_with_an_example(origin):
    with pytest.raises(SettingsError, match="scheme://host"):
        Settings(allowed_origins=(origin,))


@pytest.mark.parametrize(
    ("values", "message"),
    [({"port": 0}, "port=0"), ({"top_k": 99}, "top_k=99"), ({"concurrency": 0}, "concurrency=0")],
)
def test_out_of_range_values_name_the_setting(values, message):
    with pytest.raises(SettingsError, match=message):
        load_settings(values, environ={})


def test_bad_environment_value_names_the_variable():
    with pytest.raises(SettingsError, match="WENDA_PORT"):
        load_settings({}, environ={"WENDA_PORT": "eighty"})


def test_unknown_config_key_lists_the_valid_ones(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("prot = 80\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="unknown setting.*prot.*valid ones"):
        load_settings({}, environ={}, config=path)


def test_missing_or_broken_config_file(tmp_path):
    with pytest.raises(SettingsError, match="not found"):
        load_settings({}, environ={}, config=tmp_path / "none.toml")
    (tmp_path / "broken.toml").write_text("port = = 1", encoding="utf-8")
    with pytest.raises(SettingsError, match="not valid TOML"):
        load_settings({}, environ={}, config=tmp_path / "broken.toml")


def test_cli_reports_bad_settings_and_missing_index(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("WENDA_CONFIG", raising=False)
    assert main(["serve", "--allowed-origins", "news.example.com"]) == 2
    assert "scheme://host" in capsys.readouterr().err
    assert main(["serve", "--index", str(tmp_path / "missing")]) == 2
    assert "python -m index build" in capsys.readouterr().err
    assert main(["demo-host", "--app", "127.0.0.1:7860"]) == 2
    assert "http://127.0.0.1:7860" in capsys.readouterr().err


def test_cli_flags_reach_the_settings(monkeypatch, tmp_path):
    seen = {}
    monkeypatch.setattr("ui.__main__._run", lambda settings: seen.setdefault("settings", settings) and 0)
    for name in ("WENDA_CONFIG", "WENDA_PORT", "WENDA_ALLOWED_ORIGINS", "WENDA_EXAMPLES"):
        monkeypatch.delenv(name, raising=False)
    tmp_path.joinpath("idx").mkdir()
    main(
        [
            "serve",
            "--port",
            "7999",
            "--index",
            str(tmp_path / "idx"),
            "--allowed-origins",
            "https://a.example,https://b.example",
            "http://127.0.0.1:8000",
            "--example",
            "一？",
            "--example",
            "二？",
            "--concurrency",
            "2",
            "--top-k",
            "4",
        ]
    )
    settings = seen["settings"]
    assert settings.port == 7999 and settings.concurrency == 2 and settings.top_k == 4
    assert settings.allowed_origins == ("https://a.example", "https://b.example", "http://127.0.0.1:8000")
    assert settings.chat_examples == ("一？", "二？")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://qa.example.com/", "https://qa.example.com"),
        ("HTTPS://QA.example.com:443/qa/", "https://qa.example.com/qa"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("  ", None),
    ],
)
def test_public_url_is_normalised(raw, expected):
    assert Settings(public_url=raw).public_url == expected


@pytest.mark.parametrize(
    "raw", ["qa.example.com", "ftp://qa.example.com", "https://qa.example.com/?x=1", "https://h:99999"]
)
def test_a_bad_public_url_is_named(raw):
    with pytest.raises(SettingsError, match="public_url"):
        Settings(public_url=raw)


def test_public_url_from_flag_env_and_file(tmp_path):
    config = tmp_path / "wenda.toml"
    config.write_text('public_url = "https://file.example"\n', encoding="utf-8")
    assert load_settings({}, environ={}, config=config).public_url == "https://file.example"
    environ = {"WENDA_PUBLIC_URL": "https://env.example"}
    assert load_settings({}, environ=environ, config=config).public_url == "https://env.example"
    flags = {"public_url": "https://flag.example"}
    assert load_settings(flags, environ=environ, config=config).public_url == "https://flag.example"


def test_feedback_is_on_by_default_in_the_data_directory(monkeypatch, tmp_path):
    monkeypatch.setenv("WENDA_CACHE_DIR", str(tmp_path))
    assert Settings().feedback_path == tmp_path / "feedback" / "feedback.jsonl"
    assert Settings(feedback_log=tmp_path / "f.jsonl").feedback_path == tmp_path / "f.jsonl"
    assert load_settings({}, environ={"WENDA_FEEDBACK": "false"}).feedback_path is None
    assert load_settings({"feedback": False}, environ={}).feedback_path is None
    with pytest.raises(SettingsError, match="WENDA_FEEDBACK"):
        load_settings({}, environ={"WENDA_FEEDBACK": "maybe"})


def test_placeholder_per_corpus_with_a_neutral_default(tmp_path):
    assert Settings().chat_placeholders == SAMPLE_PLACEHOLDERS  # a sample question for the sample index
    assert Settings(index=tmp_path).chat_placeholders is None  # the neutral hint of ui.texts
    own = Settings(index=tmp_path, placeholder="例如：新政策何时生效？")
    assert own.chat_placeholders == {"zh": "例如：新政策何时生效？", "en": "例如：新政策何时生效？"}
    both = load_settings({}, environ={"WENDA_PLACEHOLDER": "问？", "WENDA_PLACEHOLDER_EN": "Ask?"})
    assert both.chat_placeholders == {"zh": "问？", "en": "Ask?"}


def test_theme_setting_is_checked(tmp_path):
    assert Settings().theme == "auto" and load_settings({"theme": "Dark"}, environ={}).theme == "dark"
    with pytest.raises(SettingsError, match="theme='blue'.*auto, light, dark"):
        Settings(theme="blue")
    config = tmp_path / "wenda.toml"
    config.write_text('theme = "light"\nfeedback = false\nplaceholder = "问？"\n', encoding="utf-8")
    settings = load_settings({}, environ={}, config=config)
    assert settings.theme == "light" and settings.feedback is False and settings.placeholder == "问？"

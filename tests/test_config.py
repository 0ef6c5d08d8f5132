"""Settings resolution, URL and model-id validation, key digests, origins."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator, Mapping

import pytest

from opta_stream.errors import ConfigError
from opta_stream.inputs import (
    host_label,
    same_origin,
    split_origin,
    validate_model_id,
    validate_url,
)
from opta_stream.settings import RENDER_S, Settings, key_digest, parse_bool, resolve_settings

KEY = "s3cr3t-admin-key"


# --- Settings -----------------------------------------------------------------


def test_settings_repr_hides_the_key():
    s = Settings("http://h:8000", KEY, False, "secrets")
    for text in (repr(s), str(s), f"{s}", f"{s!r}"):
        assert KEY not in text
        assert "admin_key=***" in text
    assert repr(Settings(None, None, True, "none")) == (
        "Settings(url=None, admin_key=None, read_only=True, source='none')")


def test_settings_is_frozen():
    s = Settings("http://h", None, False, "environment")
    with pytest.raises(AttributeError):
        s.url = "http://other"  # type: ignore[misc]


# --- resolve_settings -----------------------------------------------------------


def test_nothing_configured_means_demo():
    assert resolve_settings({}, {}, None) == Settings(None, None, False, "none")


def test_secrets_win_over_environment_field_by_field():
    secrets = {"lmx_url": "http://secret-host:8000/", "read_only": True}
    environ = {"OPTA_LMX_URL": "http://env-host:1", "OPTA_LMX_ADMIN_KEY": KEY,
               "OPTA_READ_ONLY": "0"}
    assert resolve_settings(secrets, environ, None) == Settings(
        "http://secret-host:8000", KEY, True, "secrets", "environment")


def test_environment_used_when_secrets_are_blank():
    secrets = {"lmx_url": "  ", "admin_key": "", "read_only": ""}
    environ = {"OPTA_LMX_URL": "http://env-host:8000", "OPTA_LMX_ADMIN_KEY": f" {KEY} ",
               "OPTA_READ_ONLY": "yes"}
    assert resolve_settings(secrets, environ, None) == Settings(
        "http://env-host:8000", KEY, True, "environment", "environment")


class _MissingSecrets(Mapping):
    """Behaves like st.secrets with no secrets.toml: every read raises."""

    def __getitem__(self, key: str) -> object:
        raise FileNotFoundError("No secrets found")

    def __iter__(self) -> Iterator[str]:
        raise FileNotFoundError("No secrets found")

    def __len__(self) -> int:
        raise FileNotFoundError("No secrets found")

    def get(self, key: str, default: object = None) -> object:
        raise FileNotFoundError("No secrets found")


def test_missing_secrets_file_reads_as_empty():
    settings = resolve_settings(_MissingSecrets(), {"OPTA_LMX_URL": "http://h"}, None)
    assert settings == Settings("http://h", None, False, "environment")


def test_panel_overrides_url_and_key_for_the_session():
    secrets = {"lmx_url": "http://a:8000", "admin_key": KEY}
    panel = {"url": "http://b:9000", "admin_key": "panel-key"}
    assert resolve_settings(secrets, {}, panel) == Settings(
        "http://b:9000", "panel-key", False, "panel", "sidebar")


def test_panel_without_key_reuses_configured_key_only_on_the_same_origin():
    secrets = {"lmx_url": "http://a:80/", "admin_key": KEY}
    same = resolve_settings(secrets, {}, {"url": "http://A/lmx", "admin_key": ""})
    assert same == Settings("http://a/lmx", KEY, False, "panel", "secrets")
    other = resolve_settings(secrets, {}, {"url": "http://evil.example:80"})
    assert other == Settings("http://evil.example:80", None, False, "panel")


def test_empty_panel_url_falls_back_to_defaults():
    secrets = {"lmx_url": "http://a:8000", "admin_key": KEY}
    assert resolve_settings(secrets, {}, {"url": " ", "admin_key": "x"}) == Settings(
        "http://a:8000", KEY, False, "secrets", "secrets")


def test_panel_can_turn_read_only_on_but_never_off():
    on = resolve_settings({"read_only": "true"}, {}, {"url": "http://h", "read_only": False})
    assert on.read_only is True
    off = resolve_settings({}, {}, {"url": "http://h", "read_only": "on"})
    assert off.read_only is True


def test_bad_settings_raise_config_error():
    with pytest.raises(ConfigError, match="read_only"):
        resolve_settings({"read_only": "maybe"}, {}, None)
    with pytest.raises(ConfigError, match="OPTA_READ_ONLY"):
        resolve_settings({}, {"OPTA_READ_ONLY": "2"}, None)
    with pytest.raises(ConfigError, match="http:// or https://"):
        resolve_settings({}, {"OPTA_LMX_URL": "ftp://h"}, None)
    with pytest.raises(ConfigError, match="http:// or https://"):
        resolve_settings({}, {}, {"url": "javascript:alert(1)"})


@pytest.mark.parametrize("value, expected", [
    ("1", True), ("true", True), (" YES ", True), ("On", True), (True, True), (1, True),
    ("0", False), ("false", False), ("no", False), ("OFF", False), ("", False),
    (None, False), (False, False), (0, False),
])
def test_parse_bool(value, expected):
    assert parse_bool(value, "x") is expected


@pytest.mark.parametrize("value", ["2", "enabled", 5, "tru"])
def test_parse_bool_rejects_the_unknown(value):
    with pytest.raises(ConfigError, match="must be one of"):
        parse_bool(value, "read_only")


# --- validate_url -------------------------------------------------------------------


@pytest.mark.parametrize("url, expected", [
    ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
    ("  https://LMX.local:8443/  ", "https://lmx.local:8443"),
    ("HTTP://host", "http://host"),
    ("http://host/proxy/lmx///", "http://host/proxy/lmx"),
    ("http://[::1]:8000/", "http://[::1]:8000"),
    ("https://host:443", "https://host:443"),
])
def test_validate_url_accepts_and_normalises(url, expected):
    assert validate_url(url) == expected


@pytest.mark.parametrize("url, message", [
    ("", "empty"),
    ("   ", "empty"),
    ("ftp://host", "http:// or https://"),
    ("localhost:8000", "no scheme"),
    ("127.0.0.1:8000", "http:// or https://"),
    ("http://", "no host"),
    ("http:///path", "no host"),
    ("http://host:99999", "invalid port"),
    ("http://host:0", "invalid port"),
    ("http://host:abc", "invalid port"),
    ("http://host/?x=1", "query"),
    ("http://host?", "query"),
    ("http://host/#top", "fragment"),
    ("http://ho st", "spaces"),
    ("http://host/\x00", "control"),
])
def test_validate_url_rejects(url, message):
    with pytest.raises(ConfigError, match=message):
        validate_url(url)


@pytest.mark.parametrize("url", [
    "http://admin:hunter2@host:8000",
    "http://hunter2@host",
    "http://host/events?admin_key=hunter2",
    "gopher://hunter2.example/",
])
def test_url_errors_never_echo_secrets(url):
    with pytest.raises(ConfigError) as info:
        validate_url(url)
    assert "hunter2" not in str(info.value)


def test_validate_url_rejects_non_strings():
    with pytest.raises(ConfigError, match="empty"):
        validate_url(None)  # type: ignore[arg-type]


# --- validate_model_id --------------------------------------------------------------


@pytest.mark.parametrize("model_id, expected", [
    ("mlx-community/Qwen2.5-7B-Instruct-4bit", "mlx-community/Qwen2.5-7B-Instruct-4bit"),
    ("  org/name  ", "org/name"),
    ("/models/local/llama-3", "/models/local/llama-3"),
    ("llama3:8b-q4_K_M", "llama3:8b-q4_K_M"),
    ("org/name@main", "org/name@main"),
    ("a+b", "a+b"),
    ("x", "x"),
    ("a" * 200, "a" * 200),
])
def test_validate_model_id_accepts(model_id, expected):
    assert validate_model_id(model_id) == expected


@pytest.mark.parametrize("model_id, message", [
    ("", "empty"),
    ("   ", "empty"),
    ("a" * 201, "too long: 201 characters"),
    ("org/name with space", "' '"),
    ("name;rm -rf", "';'"),
    ("name?x=1", "'\\?'"),
    ("naïve", "'ï'"),
    ("a\nb", "'\\\\n'"),
])
def test_validate_model_id_rejects(model_id, message):
    with pytest.raises(ConfigError, match=message):
        validate_model_id(model_id)


def test_model_id_errors_quote_at_most_60_characters():
    long_bad = "x" * 150 + "!"
    with pytest.raises(ConfigError) as info:
        validate_model_id(long_bad)
    text = str(info.value)
    assert "x" * 60 in text and "x" * 61 not in text and "'!'" in text
    with pytest.raises(ConfigError) as info:
        validate_model_id("y" * 5_000)
    assert "y" * 20 not in str(info.value)


def test_validate_model_id_rejects_non_strings():
    with pytest.raises(ConfigError, match="empty"):
        validate_model_id(None)  # type: ignore[arg-type]


# --- key_digest / same_origin ---------------------------------------------------------


def test_key_digest():
    expected = hmac.new(b"salt", KEY.encode(), hashlib.sha256).hexdigest()
    assert key_digest(KEY, b"salt") == expected
    assert len(expected) == 64 and KEY not in expected
    assert key_digest(KEY, b"other") != expected
    assert key_digest(None, b"salt") == "" and key_digest("", b"salt") == ""
    known = "c270b94714b5f1b39f6beb30c9a615806a46b9de0997a791aa1a6830edc27b0d"
    assert key_digest("secret-key", b"salt") == known


@pytest.mark.parametrize("a, b, expected", [
    ("http://h", "http://h:80/x", True),
    ("https://h", "https://H:443", True),
    ("HTTP://h:8000/a", "http://h:8000/b?c", True),
    ("http://[::1]:8000", "http://[::1]:8000/", True),
    ("http://h", "https://h", False),
    ("http://h:8000", "http://h:8001", False),
    ("http://h", "http://h.evil", False),
    ("http://u:p@h", "http://h", True),
    ("ftp://h", "ftp://h", False),
    ("http://h:bad", "http://h:bad", False),
    ("", "", False),
    ("not a url", "not a url", False),
])
def test_same_origin(a, b, expected):
    assert same_origin(a, b) is expected
    assert same_origin(b, a) is expected


@pytest.mark.parametrize("url, label", [
    ("http://127.0.0.1:8000", "127.0.0.1:8000"), ("https://lmx.local", "lmx.local:443"),
    ("http://h", "h:80"), ("https://user:pw@h:9/p?admin_key=k", "h:9"),
    ("http://h:bad", "h:?"), ("", "?:80"), ("h:1234", "h:1234"),
])
def test_host_label_shows_host_and_port_only(url, label):
    assert host_label(url) == label


def test_split_origin_flags_an_unreadable_port():
    assert split_origin("http://h:bad") == ("http", "h", None, False)
    assert split_origin("HTTPS://H:1") == ("https", "h", 1, True)


@pytest.mark.parametrize("where, secrets, environ, panel", [
    ("the app's secrets (admin_key)", {"admin_key": "k\u00e9y"}, {}, None),
    ("the environment (OPTA_LMX_ADMIN_KEY)", {}, {"OPTA_LMX_ADMIN_KEY": "k\u2603y"}, None),
    ("the sidebar's Admin key field", {}, {}, {"url": "http://h", "admin_key": "k\ny"}),
])
def test_a_key_a_header_cannot_carry_is_refused_without_echo(where, secrets, environ, panel):
    with pytest.raises(ConfigError) as info:
        resolve_settings(secrets, environ, panel)
    text = str(info.value)
    assert where in text and "HTTP header" in text and "not sent" in text
    assert not any(c in text for c in "\u00e9\u2603\n")


def test_key_origin_names_where_the_key_came_from():
    assert resolve_settings({}, {"OPTA_LMX_ADMIN_KEY": "k"}).key_origin() == (
        "the environment (OPTA_LMX_ADMIN_KEY)")
    assert resolve_settings({}, {}).key_origin() == "nowhere: no admin key is set"


def test_the_render_interval_comes_from_secrets_then_the_environment():
    assert resolve_settings({}, {}).render_s == RENDER_S == 0.5
    assert resolve_settings({}, {"OPTA_STREAM_RENDER_S": "1"}).render_s == 1.0
    both = resolve_settings({"render_interval_s": 2}, {"OPTA_STREAM_RENDER_S": "1"})
    assert both.render_s == 2.0
    panel = resolve_settings({"render_interval_s": 1.5}, {}, {"url": "http://h:1"})
    assert panel.render_s == 1.5  # a viewer's own server keeps the operator's rate


@pytest.mark.parametrize("value", ["0.1", "6", "fast", "nan"])
def test_a_render_interval_out_of_range_is_a_clear_error(value):
    with pytest.raises(ConfigError) as err:
        resolve_settings({}, {"OPTA_STREAM_RENDER_S": value})
    assert str(err.value).startswith("OPTA_STREAM_RENDER_S must be a number of seconds from "
                                     "0.25 to 5")

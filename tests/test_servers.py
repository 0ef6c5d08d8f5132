"""Which servers a dashboard watches: ``[[servers]]``, a fleet of one, the demo, Prometheus."""

from __future__ import annotations

import pytest

from opta_stream.errors import ConfigError
from opta_stream.settings import (
    MAX_SERVERS,
    PromSettings,
    ServerEntry,
    Settings,
    check_unique,
    entry_settings,
    make_entry,
    resolve_fleet,
    slug,
)

KEY = "fleet-s3cr3t-key"
NONE = Settings(None, None, False, "none")


def table(name: str, port: int, **extra: object) -> dict[str, object]:
    return {"name": name, "url": f"http://10.0.0.{port % 250}:{port}", **extra}


def test_servers_are_read_in_order_with_their_own_keys() -> None:
    secrets = {"servers": [table("studio", 1234, admin_key=KEY, read_only=True),
                           table("mini", 1235)]}
    fleet = resolve_fleet(secrets, {}, NONE)
    assert fleet.listed and fleet.prometheus is None
    assert [s.name for s in fleet.servers] == ["studio", "mini"]
    studio, mini = fleet.servers
    assert (studio.admin_key, studio.read_only, studio.origin) == (KEY, True, "secrets")
    assert (mini.admin_key, mini.read_only) == (None, False)
    assert studio.url == "http://10.0.0.234:1234" and studio.instance == "10.0.0.234:1234"
    assert fleet.named("mini") is mini and fleet.named("nope") is None


def test_single_server_settings_are_a_fleet_of_one() -> None:
    base = Settings("http://box.local:1234", KEY, True, "environment", "environment")
    fleet = resolve_fleet({}, {}, base)
    assert not fleet.listed
    (one,) = fleet.servers
    assert (one.name, one.url, one.admin_key, one.read_only, one.origin) == (
        "box.local-1234", "http://box.local:1234", KEY, True, "settings")
    assert entry_settings(one, base) == base


def test_no_server_at_all_is_the_demo() -> None:
    assert resolve_fleet({}, {}, NONE).servers == ()


@pytest.mark.parametrize(("raw", "words"), [
    ("http://x", "list of tables"),
    ([], "list of tables"),
    (["http://x"], "Server 1 in servers is not a table"),
    ([{"name": "a"}], "needs a url"),
    ([{"name": "a", "url": "ftp://x"}], "Server 1"),
    ([{"name": "bad name!", "url": "http://x"}], "letters, digits"),
    ([{"name": "a", "url": "http://x", "colour": "red"}], "unknown settings: 'colour'"),
    ([{"name": "a", "url": "http://x", "read_only": "perhaps"}], "read_only"),
    ([table("a", 1), table("a", 2)], "Two servers are named 'a'"),
    ([table("a", 1), table("b", 1)], "same URL"),
])
def test_bad_tables_say_what_is_wrong(raw: object, words: str) -> None:
    with pytest.raises(ConfigError, match=words.replace("!", r"\!")):
        resolve_fleet({"servers": raw}, {}, NONE)


def test_no_message_or_repr_carries_a_key() -> None:
    bad_key = KEY + "é"
    with pytest.raises(ConfigError) as caught:
        make_entry({"name": "a", "url": "http://x", "admin_key": bad_key}, "Server 1")
    assert KEY not in str(caught.value)
    entry = make_entry({"url": "http://x:1", "admin_key": KEY}, "Server 1")
    assert KEY not in repr(entry) and KEY not in str(entry) and "admin_key=***" in repr(entry)
    assert entry.name == "x-1"  # a table with no name is named after its host and port


def test_at_most_twenty_servers() -> None:
    entries = [ServerEntry(f"s{i}", f"http://h:{1000 + i}", None, False)
               for i in range(MAX_SERVERS)]
    check_unique(entries)
    with pytest.raises(ConfigError, match=f"At most {MAX_SERVERS} servers"):
        check_unique([*entries, ServerEntry("one-more", "http://h:9", None, False)])


def test_an_entry_turns_into_its_own_settings() -> None:
    base = Settings("http://ignored:1", "base-key", False, "secrets", "secrets", 1.5)
    entry = make_entry({"name": "lab", "url": "http://lab:1", "read_only": "yes"}, "Server 1")
    conf = entry_settings(entry, base)
    assert (conf.url, conf.admin_key, conf.read_only, conf.key_source) == (
        "http://lab:1", None, True, "none")  # the base's key is never reused
    assert conf.render_s == 1.5 and conf.history == base.history


def test_slug_is_safe_in_a_url() -> None:
    assert all(c.isalnum() or c in "._-" for c in slug("http://[::1]:1234"))
    assert slug("http://studio.local:1234") == "studio.local-1234"


def test_prometheus_settings() -> None:
    fleet = resolve_fleet({"prometheus_url": "http://prom:9090/"}, {}, NONE)
    assert fleet.prometheus == PromSettings("http://prom:9090", "instance", 3.0)
    environ = {"OPTA_PROMETHEUS_URL": "http://p:9090", "OPTA_PROMETHEUS_LABEL": "host",
               "OPTA_PROMETHEUS_TIMEOUT_S": "0.5"}
    assert resolve_fleet({}, environ, NONE).prometheus == PromSettings("http://p:9090", "host", 0.5)
    for bad, words in (({"prometheus_url": "nope"}, "prometheus_url"),
                       ({"prometheus_url": "http://p", "prometheus_label": "a-b"}, "label name"),
                       ({"prometheus_url": "http://p", "prometheus_timeout_s": "99"}, "0.1 to 60")):
        with pytest.raises(ConfigError, match=words):
            resolve_fleet(bad, {}, NONE)

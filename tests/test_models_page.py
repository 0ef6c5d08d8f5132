"""AppTest: the Models page's Load form, its on-disk picker, and where results appear.

The form offers the real server's load fields and sends only those the user
set; the picker lists ``GET /admin/models/available`` and fills the id box;
each result (success, the server's refusal, the download prompt) appears
next to the control that caused it. The fake admin client records every
call, so each test asserts the exact body that would have been sent.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
import streamlit_internals as compat
from conftest import MODEL_A, MODEL_B
from test_app_pages import ACTION_WAIT_S, FakeClient, finish_action, make_app, open_page

from opta_stream import units as formatting
from opta_stream.demo.model import UNSUPPORTED_ARCH
from opta_stream.snapshot import ModelInfo
from opta_stream.ui import actions, load_form
from opta_stream.wire.client import ActionResult, Unreachable

DISK = [{"repo_id": "mlx-community/Mistral-7B-Instruct-v0.3-4bit", "local_path": "/m/b",
         "size_bytes": 4_380_000_000, "downloaded_at": 1_790_000_000.0},
        {"repo_id": "mlx-community/Llama-3.2-3B-Instruct-4bit", "local_path": "/m/a",
         "size_bytes": 1_950_000_000, "downloaded_at": 1_790_000_100.0},
        {"local_path": "/m/no-id"}]
DISK_IDS = ["mlx-community/Llama-3.2-3B-Instruct-4bit",
            "mlx-community/Mistral-7B-Instruct-v0.3-4bit"]


@pytest.fixture(autouse=True)
def navigation_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    compat.use_navigation_mode(monkeypatch)


class DiskClient(FakeClient):
    """FakeClient that also lists the server's disk (or fails to, with ``fail``)."""

    base_url = "http://lmx.test:1234"

    def __init__(self, rows: list[dict[str, Any]] | None = None,
                 fail: Exception | None = None) -> None:
        super().__init__()
        self.rows = DISK if rows is None else rows
        self.fail = fail
        self.listed = 0

    def available_models(self) -> list[dict[str, Any]]:
        self.listed += 1
        if self.fail is not None:
            raise self.fail
        return [dict(r) for r in self.rows]


class GatedClient(DiskClient):
    """A load that lasts until the test opens the gate."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()

    def load_model(self, model_id: str, settings: dict[str, Any] | None = None) -> ActionResult:
        assert self.gate.wait(ACTION_WAIT_S), "the test never opened the gate"
        return super().load_model(model_id, settings)


def models_page(store, client) -> Any:
    return open_page(make_app(store, client=client), "models")


def submit(at, model_id: str) -> Any:
    at.text_input(key="load_model_id").input(model_id)
    return finish_action(at.button(key="load_submit").click().run())


def flat(node) -> list[Any]:
    """Every element under ``node`` in page order (blocks opened)."""
    children = getattr(node, "children", None)
    if not isinstance(children, dict):
        return [node]
    return [leaf for key in sorted(children) for leaf in flat(children[key])]


def position(at, match) -> int:
    found = [i for i, el in enumerate(flat(at.main)) if match(el)]
    assert found, "no such element on the page"
    return found[0]


def keyed(key: str):
    return lambda el: str(getattr(getattr(el, "proto", None), "id", "")).endswith(key)


def kind(name: str, text: str = ""):
    return lambda el: el.type == name and text in str(getattr(el, "value", ""))


# -- the fields ---------------------------------------------------------------------


def test_fields_left_alone_are_not_sent(filled_store, clean_env):
    client = DiskClient()
    at = submit(models_page(filled_store, client), "org/model")
    assert client.calls == [("load", "org/model", {})]
    assert at.success[0].value == formatting.plain("Loaded org/model")


def test_every_field_is_sent_under_the_servers_name(filled_store, clean_env):
    client = DiskClient()
    at = models_page(filled_store, client)
    at.selectbox(key="load_backend").select("mlx-lm")
    at.number_input(key="load_keep_alive").set_value(0)  # 0 = never evict: sent, not dropped
    at.checkbox(key="load_auto_download").check()
    at.selectbox(key="load_kv_bits").select(8)
    at.selectbox(key="load_kv_group_size").select(64)
    at.selectbox(key="load_prefix_cache").select(False)  # off is a choice, not "unset"
    at.text_input(key="load_draft_model").input("mlx-community/Qwen2.5-0.5B-Instruct-4bit")
    at.number_input(key="load_draft_tokens").set_value(4)
    at.checkbox(key="load_allow_unsupported").check()
    at = submit(at, "org/model")
    assert client.calls == [("load", "org/model", {
        "auto_download": True, "keep_alive_sec": 0, "backend": "mlx-lm",
        "performance_overrides": {
            "kv_bits": 8, "kv_group_size": 64, "prefix_cache": False,
            "speculative": {"draft_model": "mlx-community/Qwen2.5-0.5B-Instruct-4bit",
                            "num_tokens": 4}},
        "allow_unsupported_runtime": True})]
    assert "Settings sent: " + formatting.plain(
        "auto_download=true, keep_alive_sec=0, backend=mlx-lm, performance_overrides={"
        "kv_bits=8, kv_group_size=64, prefix_cache=false, speculative={draft_model=") in " ".join(
        c.value for c in at.main.caption)


def test_only_the_fields_set_are_sent(filled_store, clean_env):
    client = DiskClient()
    at = models_page(filled_store, client)
    at.selectbox(key="load_backend").select("gguf")
    at.selectbox(key="load_prefix_cache").select(True)
    submit(at, "org/model.gguf")
    assert client.calls == [("load", "org/model.gguf", {
        "backend": "gguf", "performance_overrides": {"prefix_cache": True}})]


def test_the_old_json_box_and_its_ignored_placeholder_are_gone(filled_store, clean_env):
    at = models_page(filled_store, DiskClient())
    assert not [t for t in at.text_area if t.key == "load_settings"]
    assert "max_context" not in repr([w.proto for w in flat(at.main)])


def test_bad_ids_are_refused_before_anything_is_sent(filled_store, clean_env):
    client = DiskClient()
    at = models_page(filled_store, client)
    at.text_input(key="load_model_id").input("bad id with spaces")
    at.button(key="load_submit").click().run()
    assert "Nothing was sent." in at.error[0].value
    at.text_input(key="load_model_id").input("org/model")
    at.text_input(key="load_draft_model").input("draft with spaces")
    at.button(key="load_submit").click().run()
    assert client.calls == []
    assert len(at.error) == 1 and "Nothing was sent." in at.error[0].value
    assert "model id" in at.code[0].value.lower()
    assert actions.ACTION_KEY not in at.session_state


# -- the on-disk picker --------------------------------------------------------------


def test_the_picker_lists_the_disk_and_fills_the_id(filled_store, clean_env):
    client = DiskClient()
    at = models_page(filled_store, client)
    pick = at.selectbox(key="load_pick")
    g = filled_store.snapshot(1).gauges  # 11.95 of 24 GB in use, threshold 90 %
    free = 24.0 * 0.9 - 11.95
    assert (g.memory_used_gb, g.memory_total_gb, g.threshold_pct) == (11.95, 24.0, 90.0)
    assert pick.options == [  # MODEL_B (Llama) is loaded; sizes in the server's GB (2³⁰ B)
        "mlx-community/Llama-3.2-3B-Instruct-4bit · 1.82 GB · loaded",
        "mlx-community/Mistral-7B-Instruct-v0.3-4bit · 4.08 GB · fits: needs about "
        f"{4.38e9 / 2**30 * 1.15:.1f} GB, {free:.1f} GB free"]
    assert "2 on disk" in " ".join(c.value for c in at.main.caption)
    pick.select(DISK_IDS[1]).run()
    assert at.text_input(key="load_model_id").value == DISK_IDS[1]
    finish_action(at.button(key="load_submit").click().run())
    assert client.calls == [("load", DISK_IDS[1], {})]


def test_any_id_can_still_be_typed_after_picking(filled_store, clean_env):
    client = DiskClient()
    at = models_page(filled_store, client)
    at.selectbox(key="load_pick").select(DISK_IDS[0]).run()
    submit(at, "someone/else-entirely")
    assert client.calls == [("load", "someone/else-entirely", {})]


def test_the_list_is_kept_a_while_then_refreshed(filled_store, clean_env, monkeypatch):
    client = DiskClient()
    at = models_page(filled_store, client)
    at.run()
    at.run()
    assert client.listed == 1, "within the TTL the session's list is reused"
    at.button(key="load_pick_refresh").click().run()
    assert client.listed == 2, "Refresh fetches again at once"
    monkeypatch.setattr(load_form, "DISK_TTL_S", 0.0)
    at.run()
    assert client.listed == 3, "an expired list is fetched again"


@pytest.mark.parametrize(("fail", "reason"), [
    (Unreachable("Connection refused by lmx.test:1234"), "Connection refused by lmx.test:1234"),
    (AttributeError("no listing here"), "no listing here"),
])
def test_a_failed_listing_says_why_and_the_form_still_works(filled_store, clean_env, fail,
                                                            reason):
    client = DiskClient(fail=fail)
    at = models_page(filled_store, client)
    captions = " ".join(c.value for c in at.main.caption)
    assert "Could not list the models on the server's disk" in captions
    assert formatting.plain(reason) in captions
    assert at.selectbox(key="load_pick").disabled
    submit(at, "org/typed-model")
    assert client.calls == [("load", "org/typed-model", {})]


def test_an_empty_disk_says_so(filled_store, clean_env):
    at = models_page(filled_store, DiskClient(rows=[]))
    assert "no model on its disk" in " ".join(c.value for c in at.main.caption)


def test_read_only_does_not_list_the_disk(filled_store, clean_env):
    client = DiskClient()
    at = open_page(make_app(filled_store, client=client, read_only=True,
                            admin_key="s3cret-key"), "models")
    assert client.listed == 0
    assert not [s for s in at.selectbox if s.key == "load_pick"]
    assert all(at.selectbox(key=k).disabled for k in ("load_backend", "load_kv_bits"))


# -- where results appear -----------------------------------------------------------


def test_a_refusal_appears_under_the_load_form(filled_store, clean_env):
    at = submit(models_page(filled_store, DiskClient()), "x86-only/model")
    error = position(at, kind("error", "HTTP 422"))
    assert error > position(at, keyed("load_submit"))
    assert error > position(at, kind("subheader", "Downloads and quantize jobs"))
    assert UNSUPPORTED_ARCH["error"]["message"] in [c.value for c in at.code]


def test_the_download_prompt_is_under_the_form_and_keeps_the_settings(filled_store, clean_env):
    client = DiskClient()
    at = models_page(filled_store, client)
    at.selectbox(key="load_backend").select("vllm-mlx")
    at = submit(at, "remote/new-model")
    assert client.calls == [("load", "remote/new-model", {"backend": "vllm-mlx"})]
    assert position(at, keyed("confirm_download")) > position(at, keyed("load_submit"))
    assert formatting.plain("4.4 GB") in at.warning[0].value
    finish_action(at.button(key="confirm_download").click().run())
    assert client.calls[-1] == ("load", "remote/new-model",
                                {"backend": "vllm-mlx", "auto_download": True})
    success = position(at, kind("success", "Download started"))
    assert success > position(at, keyed("load_submit"))


def test_an_unload_result_is_in_its_models_row(filled_store, clean_env):
    at = models_page(filled_store, DiskClient())
    at.button(key=f"unload::{MODEL_B}").click().run()  # asks first: requests in flight
    finish_action(at.button(key=f"unload::{MODEL_B}").click().run())
    error = position(at, kind("error", "model_not_found"))
    assert position(at, keyed(f"unload::{MODEL_B}")) < error
    assert error < position(at, kind("subheader", "Downloads and quantize jobs"))
    assert error < position(at, keyed("load_submit"))


def test_an_unloaded_models_result_stays_where_its_row_was(filled_store, clean_env, fixed_now):
    at = models_page(filled_store, DiskClient())
    at.button(key=f"unload::{MODEL_A}").click().run()
    at.button(key=f"unload::{MODEL_A}").click().run()
    assert at.session_state[actions.ACTION_KEY].wait(ACTION_WAIT_S)
    filled_store.set_models([ModelInfo(MODEL_B, 1.82, fixed_now - 300.0, 131072, "4bit", 3)])
    at.run()
    assert not [b for b in at.button if b.key == f"unload::{MODEL_A}"]
    done = position(at, kind("success", "Unloaded"))
    assert done < position(at, keyed(f"unload::{MODEL_B}"))
    at.button(key=f"dismiss::unload::{MODEL_A}").click().run()
    assert not at.success


def test_the_form_waits_for_a_running_load_then_is_usable_again(filled_store, clean_env):
    client = GatedClient()
    at = models_page(filled_store, client)
    at.text_input(key="load_model_id").input("org/slow-model")
    at.button(key="load_submit").click().run()
    assert at.button(key="load_submit").disabled
    running = position(at, kind("info", "Loading org/slow-model"))
    assert running > position(at, keyed("load_submit"))
    client.gate.set()
    finish_action(at)
    assert not at.button(key="load_submit").disabled
    assert at.success[0].value == formatting.plain("Loaded org/slow-model")
    assert client.calls == [("load", "org/slow-model", {})]


# -- the pure parts ------------------------------------------------------------------


def test_disk_rows_are_read_leniently_and_sorted():
    from opta_stream.views.load_choices import DiskModel, disk_label, disk_models

    rows = [{"repo_id": "b/model", "size_bytes": True, "downloaded_at": "yesterday"},
            {"repo_id": " A/model ", "size_bytes": 2_000_000_000, "downloaded_at": 5.0,
             "local_path": "/m/a"},
            {"repo_id": ""}, {"repo_id": 7}, "not a row", {"size_bytes": 1}]
    assert disk_models(rows) == (DiskModel("A/model", 2_000_000_000, 5.0, "/m/a"),
                                 DiskModel("b/model", None, None, ""))
    assert [disk_label(m) for m in disk_models(rows)] == ["A/model · 1.86 GB", "b/model"]


@pytest.mark.parametrize(("choices", "message"), [
    ({"keep_alive_sec": -1}, "Keep alive"),
    ({"draft_tokens": 0}, "Draft tokens"),
    ({"backend": "tensorrt"}, "Unknown backend"),
])
def test_impossible_settings_are_refused_before_sending(choices, message):
    from opta_stream.views.load_choices import LoadChoices, settings

    with pytest.raises(ValueError, match=message):
        settings(LoadChoices(**choices))

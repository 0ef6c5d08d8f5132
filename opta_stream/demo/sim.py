"""The simulated Opta LMX behind the demo server: models, requests, memory, counters.

Pure: no sockets, no threads, no sleeps. Time comes in as ``now`` (or from the
injected clock) and randomness from the injected ``random.Random``, so a seed
replays a run. One lock guards the state, because HTTP handler threads, the
ticker and every stream writer read it at the same time.

``step(now)`` advances the world and returns the lifecycle events to publish;
``load``/``unload``/``confirm`` answer like the real routes (status, body,
events), a load passing the server's memory admission first (``pressure``);
``view()`` and ``inspect()`` copy out what the endpoint renderers need;
``hold_memory(percent)`` drives memory up on purpose. Downloads are
``downloads.Downloads``'; presets, registry, benchmarks and the helper node
``books.Books``'.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

from opta_stream.demo.books import Books, BooksView, estimate_gb
from opta_stream.demo.downloads import TOKEN_EXPIRY_S, Downloads
from opta_stream.demo.model import (
    CATALOGUE,
    DOWNLOADS_DISABLED,
    UNSUPPORTED_ARCH,
    CatalogueModel,
    Reply,
    SimView,
    estimate_bytes,
    guess_model,
    load_ok,
    model_not_found,
)
from opta_stream.demo.pressure import admit, insufficient_memory, pushed_past
from opta_stream.demo.world import World

__all__ = ["CATALOGUE", "TOKEN_EXPIRY_S", "CatalogueModel", "Reply", "SimView", "Simulation"]


class Simulation:
    """A believable LMX: requests come and go, tokens/s and memory follow them."""

    def __init__(
        self, mode: str = "rich", *, rng: random.Random | None = None,
        clock: Callable[[], float] = time.time, download_bytes_per_s: float = 2.5e9,
        side_rng: random.Random | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._rng = rng or random.Random(0)
        self.mode = mode
        now = clock()
        side = side_rng or random.Random(1)  # quarantines, the helper node, the past
        self._books = Books(mode == "rich", side, now)
        self._world = World(self._rng, now, rich=mode == "rich", quarantine_rng=side)
        self._downloads = Downloads(self._rng, download_bytes_per_s)
        self._last = now
        if mode == "rich":
            for model_id in (CATALOGUE[1].model_id, CATALOGUE[0].model_id):
                self._world.add_model(self._spec(model_id), now,
                                      self._books.performance(model_id, None))
            self._world.warm_up(now)

    @property
    def download_bytes_per_s(self) -> float:
        """How fast downloads go (tests raise it)."""
        return self._downloads.bytes_per_s

    @download_bytes_per_s.setter
    def download_bytes_per_s(self, value: float) -> None:
        with self._lock:
            self._downloads.bytes_per_s = value

    # --- time -----------------------------------------------------------

    def step(self, now: float | None = None) -> list[tuple[str, dict]]:
        """Advance to ``now``; return the lifecycle events that happened meanwhile."""
        with self._lock:
            now = self._clock() if now is None else now
            dt = min(now - self._last, 5.0)
            if dt <= 0:
                return []
            self._last = now
            events = self._world.advance(now, dt)
            self._books.advance(now, dt)
            for job in self._downloads.advance(now, dt, events):  # complete: load it
                self._world.on_disk.add(job["repo_id"])
                reply = self._load_from_disk(job["repo_id"], now, job["overrides"])
                events.extend(reply.events)  # a failed auto-load publishes nothing (faithful)
            return events

    # --- actions --------------------------------------------------------

    def load(self, model_id: str, *, auto_download: bool = False,
             overrides: dict | None = None, now: float | None = None) -> Reply:
        """POST /admin/models/load: 200 loaded, 202 download, 403/422/507 refused.

        ``overrides`` is the body's ``performance_overrides`` (its
        ``memory_estimate_gb`` counts in the memory check, over a preset's).
        """
        with self._lock:
            now = self._clock() if now is None else now
            if model_id in self._world.loaded:
                return Reply(200, load_ok(model_id, None, None))
            if "x86-only" in model_id:
                return Reply(422, UNSUPPORTED_ARCH)
            if model_id in self._world.on_disk:
                return self._load_from_disk(model_id, now, overrides)
            if model_id.startswith("blocked/"):
                return Reply(403, DOWNLOADS_DISABLED)
            if auto_download:
                return self._downloads.start(self._spec(model_id), now, overrides,
                                             with_estimate=True)
            return self._downloads.ask(self._spec(model_id), now, overrides)

    def confirm(self, token: str, now: float | None = None) -> Reply:
        """POST /admin/models/load/confirm: start the download a 202 asked about."""
        with self._lock:
            now = self._clock() if now is None else now
            entry = self._downloads.confirmed(token, now)
            if isinstance(entry, Reply):
                return entry
            return self._downloads.start(self._spec(entry[0]), now, entry[1],
                                         with_estimate=False)

    def unload(self, model_id: str, now: float | None = None) -> Reply:
        """POST /admin/models/unload: 200 with memory freed, 404 if not loaded."""
        with self._lock:
            freed = self._world.remove_model(model_id)
            if freed is None:
                return Reply(404, model_not_found(model_id))
            body = {"success": True, "model_id": model_id, "memory_freed_gb": round(freed, 2)}
            data = {"model_id": model_id, "memory_freed_gb": round(freed, 2), "reason": "manual"}
            return Reply(200, body, (("model_unloaded", data),))

    def download_progress(self, download_id: str) -> Reply:
        """GET /admin/models/download/{id}/progress."""
        with self._lock:
            return self._downloads.progress(download_id)

    def _load_from_disk(self, model_id: str, now: float, overrides: dict | None) -> Reply:
        """Admission, the load, then the reading after it: 507 when memory says no."""
        spec = self._spec(model_id)
        world = self._world
        performance = self._books.performance(model_id, overrides)
        check = admit(current=world.usage_percent(), reserved=0.0,
                      estimate_gb=estimate_gb(performance), total_gb=world.total_gb,
                      threshold=world.threshold_percent)
        if not check.admitted:
            return Reply(507, insufficient_memory(check.refusal(model_id)))
        world.add_model(spec, now, performance)
        after = world.usage_percent()
        if after >= world.threshold_percent:  # loaded, read, unloaded again: no event
            world.remove_model(model_id)
            return Reply(507, insufficient_memory(pushed_past(
                model_id, min(after, 100.0), world.threshold_percent)))
        self._books.record_pass(model_id, now)
        duration = spec.memory_gb * 0.21 + self._rng.uniform(0.2, 0.9)
        body = load_ok(model_id, world.used_gb(), round(duration * 1000.0, 1))
        data = {"model_id": model_id, "format": "mlx", "memory_gb": spec.memory_gb,
                "duration_sec": round(duration, 2)}
        return Reply(200, body, (("model_loaded", data),))

    def _spec(self, model_id: str) -> CatalogueModel:
        return next((m for m in CATALOGUE if m.model_id == model_id), None) or guess_model(
            model_id)

    # --- reads ----------------------------------------------------------

    def view(self, now: float | None = None) -> SimView:
        """An immutable copy of everything the endpoint renderers need."""
        with self._lock:
            return self._world.view(self._clock() if now is None else now)

    def throughput_samples(self) -> list[tuple[str | None, float]]:
        """Current smoothed tokens/s per loaded model; ``[(None, 0.0)]`` when none."""
        with self._lock:
            return self._world.throughput_samples()

    def inspect(self, now: float | None = None) -> tuple[SimView, BooksView]:
        """The live state and the books at one instant, for the diagnosis routes."""
        with self._lock:
            now = self._clock() if now is None else now
            return self._world.view(now), self._books.view(now)

    def check_helpers(self, now: float | None = None) -> dict:
        """GET /admin/helpers: statistics, then a live check that updates ``healthy``."""
        with self._lock:
            return self._books.check_helpers(self._clock() if now is None else now)

    def usage_percent(self) -> float:
        """Memory use in per cent (one decimal), the figure load shedding reads."""
        with self._lock:
            return self._world.usage_percent()

    def hold_memory(self, percent: float | None) -> None:
        """Hold memory outside any model so usage reads at least ``percent`` % (None: let go).

        The deterministic way to drive the server into its memory rules: the
        threshold (diagnostics degraded, loads refused) and load shedding at 95 %.
        """
        with self._lock:
            world = self._world
            world.held_gb = 0.0 if percent is None else world.total_gb * percent / 100.0

    def catalogue_on_disk(self) -> list[str]:
        """Model ids that load without a download: unloaded ones that fit come first."""
        with self._lock:
            world = self._world
            order = {m.model_id: i for i, m in enumerate(CATALOGUE)}
            return sorted(world.on_disk, key=lambda k: (
                k in world.loaded, not self._fits(k), order.get(k, 99), k))

    def _fits(self, model_id: str) -> bool:
        """Whether a load of ``model_id`` would pass admission and the reading after it."""
        world = self._world
        check = admit(current=world.usage_percent(), reserved=0.0,
                      estimate_gb=estimate_gb(self._books.performance(model_id, None)),
                      total_gb=world.total_gb, threshold=world.threshold_percent)
        after = 100.0 * (world.used_gb() + self._spec(model_id).memory_gb) / world.total_gb
        return check.admitted and round(after, 1) < world.threshold_percent

    def available_models(self) -> list[dict]:
        """GET /admin/models/available: every model on disk, as the real server lists it."""
        with self._lock:
            world = self._world
            done = self._downloads.completed_at()
            return [{"repo_id": k, "local_path": f"/models/{k}",
                     "size_bytes": estimate_bytes(self._spec(k)),
                     "downloaded_at": round(done.get(k, world.started - 86400.0 * (i + 1)), 3)}
                    for i, k in enumerate(sorted(world.on_disk))]


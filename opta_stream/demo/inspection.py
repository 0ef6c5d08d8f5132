"""The diagnosis routes of the demo server: which path answers what, with which query.

``GET /admin/diagnostics``, ``/admin/device``, ``/admin/stack``,
``/admin/helpers``, ``/admin/benchmark/results``, ``/admin/models/compatibility``,
``/admin/models/{model_id}/performance``, ``/admin/predictor`` and
``/admin/presets``. The handler has already checked the key and the memory
(shedding); this module reads the query like FastAPI (422 on a bad value)
and asks the simulation and the renderers for the body.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import unquote

from opta_stream.demo import diagnosis
from opta_stream.demo.inventory import device, python_version
from opta_stream.demo.model import Reply
from opta_stream.demo.sim import Simulation
from opta_stream.demo.validation import query_bool, query_float, query_int, query_value

__all__ = ["PATHS", "answer", "handles"]

Query = dict[str, list[str]]
_PERFORMANCE = re.compile(r"^/admin/models/(.+)/performance$")


def _diagnostics(sim: Simulation, _query: Query, offset: float) -> Reply:
    view, _ = sim.inspect()
    return Reply(200, diagnosis.diagnostics(view, python_version(), offset))


def _device(sim: Simulation, _query: Query, _offset: float) -> Reply:
    view, books = sim.inspect()
    return Reply(200, device(books.rich, view.total_gb))


def _stack(sim: Simulation, _query: Query, _offset: float) -> Reply:
    return Reply(200, diagnosis.stack(*sim.inspect()))


def _helpers(sim: Simulation, _query: Query, offset: float) -> Reply:
    body = sim.check_helpers()
    for row in body["helpers"].values():
        row["last_check_at"] = row["last_check_at"] + offset if row["last_check_at"] else 0.0
    return Reply(200, body)


def _predictor(sim: Simulation, _query: Query, _offset: float) -> Reply:
    return Reply(200, sim.inspect()[0].predictor)


def _presets(sim: Simulation, _query: Query, _offset: float) -> Reply:
    return Reply(200, diagnosis.presets(sim.inspect()[1]))


def _benchmarks(sim: Simulation, query: Query, _offset: float) -> Reply:
    return Reply(200, diagnosis.benchmark_results(sim.inspect()[1], query_value(query, "model_id")))


def _compatibility(sim: Simulation, query: Query, offset: float) -> Reply:
    since, bad_since = query_float(query, "since_ts")
    limit, bad_limit = query_int(query, "limit", 200)
    summary, bad_summary = query_bool(query, "include_summary", False)
    errors = [item for bad in (bad_since, bad_limit, bad_summary) if bad for item in bad["detail"]]
    if errors:  # FastAPI reports every bad parameter at once, in signature order
        return Reply(422, {"detail": errors})
    return Reply(200, diagnosis.compatibility(
        sim.inspect()[1], model_id=query_value(query, "model_id"),
        backend=query_value(query, "backend"), outcome=query_value(query, "outcome"),
        since_ts=since, limit=limit, include_summary=summary, offset=offset))


PATHS: dict[str, Callable[[Simulation, Query, float], Reply]] = {
    "/admin/diagnostics": _diagnostics, "/admin/device": _device, "/admin/stack": _stack,
    "/admin/helpers": _helpers, "/admin/benchmark/results": _benchmarks,
    "/admin/models/compatibility": _compatibility, "/admin/predictor": _predictor,
    "/admin/presets": _presets,
}


def handles(path: str) -> bool:
    """Whether ``path`` is one of these GET routes."""
    return path in PATHS or _PERFORMANCE.match(path) is not None


def answer(path: str, query: Query, sim: Simulation, offset: float = 0.0) -> Reply:
    """The reply to ``GET path?query`` (only for a path ``handles`` accepts)."""
    route = PATHS.get(path)
    if route is not None:
        return route(sim, query, offset)
    match = _PERFORMANCE.match(path)
    assert match is not None  # handles() said so
    return diagnosis.performance(sim.inspect()[0], unquote(match.group(1)), offset)

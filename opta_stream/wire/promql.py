"""Range queries against a user's Prometheus: long windows and fleet history.

Plain ``requests`` against the HTTP API (``/api/v1/query_range``) rather than
``prometheus-api-client``: one GET and one JSON shape is all a chart needs,
and this way it shares the dashboard's HTTP habits (a session that ignores
proxy and netrc credentials, our timeouts, no redirects followed). That
client (0.7.2) would add ``dateparser`` and its own session rules, and its
errors would still need sorting into what a chart should say. Every failure becomes a
``PromError`` whose ``kind`` says what the chart should tell the viewer:
"down" (nothing answers), "slow" (no answer within the timeout), "error"
(Prometheus refused the query, or the answer is not Prometheus's JSON) or
"missing" (no series for this server).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import requests

from opta_stream.inputs import host_label, preview
from opta_stream.settings import PromSettings
from opta_stream.snapshot import RangeLine
from opta_stream.wire.sessions import new_session

__all__ = [
    "CHARTS", "MAX_POINTS", "PromClient", "PromError", "QUERIES", "query_for", "step_for"]

MAX_POINTS = 1000
_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200,
          86400)

# What each chart asks for; {sel} is the server's label matcher, {r} the rate's range.
# The series each chart asks for; ``QUERIES`` holds their PromQL.
CHARTS: dict[str, tuple[str, ...]] = {
    "throughput": ("tokens_per_s",),
    "latency": ("p95_s",),
    "memory": ("memory_used_gb", "memory_total_gb"),
}
QUERIES: dict[str, str] = {
    "tokens_per_s": "sum(rate(lmx_completion_tokens_total{{{sel}}}[{r}]))",
    "p95_s": "histogram_quantile(0.95, sum by (le) "
             "(rate(lmx_request_duration_seconds_bucket{{{sel}}}[{r}])))",
    "requests_per_s": "sum(rate(lmx_requests_total{{{sel}}}[{r}]))",
    "memory_used_gb": "max(lmx_memory_used_gb{{{sel}}})",
    "memory_total_gb": "max(lmx_memory_total_gb{{{sel}}})",
}


class PromError(Exception):
    """Why a range query gave no line; ``kind`` is down, slow, error or missing."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def step_for(range_s: float, max_points: int = MAX_POINTS) -> float:
    """The smallest round step that keeps ``range_s`` (both ends included) at or under
    ``max_points`` points."""
    need = max(1.0, math.ceil(range_s / (max_points - 1)))
    return float(next((s for s in _STEPS if s >= need), need))


def _quote(value: str) -> str:
    """A PromQL string literal: backslash and double quote escaped, no newline kept."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def query_for(kind: str, label: str, instance: str, step_s: float) -> str:
    """The PromQL for a chart, on one server's series; rates span at least a minute (four
    scrapes of a 15 s interval) and never less than the step, so no sample is skipped."""
    rate_s = max(60, int(step_s))
    return QUERIES[kind].format(sel=f"{label}={_quote(instance)}", r=f"{rate_s}s")


class PromClient:
    """Range queries against one Prometheus; ``get`` is injectable for tests of odd answers."""

    def __init__(self, settings: PromSettings,
                 get: Callable[..., requests.Response] | None = None) -> None:
        self.settings = settings
        self.where = f"Prometheus at {host_label(settings.url)}"
        self._get = get or new_session().get

    def query_range(self, query: str, start: float, end: float, step_s: float) -> RangeLine:
        """One line on a grid from ``start`` to ``end``; PromError when there is none."""
        params = {"query": query, "start": f"{start:.3f}", "end": f"{end:.3f}",
                  "step": f"{step_s:g}"}
        try:
            resp = self._get(self.settings.url.rstrip("/") + "/api/v1/query_range",
                             params=params, timeout=self.settings.timeout_s,
                             allow_redirects=False)
        except requests.exceptions.Timeout:
            raise PromError("slow", f"{self.where} did not answer within "
                                    f"{self.settings.timeout_s:g} s.") from None
        except requests.exceptions.RequestException:
            raise PromError("down", f"{self.where} cannot be reached: is it running, and is "
                                    "prometheus_url right?") from None
        body = self._json(resp)
        if resp.status_code != 200 or body.get("status") != "success":
            detail = preview(str(body.get("error") or f"HTTP {resp.status_code}"))
            raise PromError("error", f"{self.where} refused the query: {detail}")
        return self._series(body.get("data"), start, end, step_s, query)

    def _json(self, resp: requests.Response) -> dict[str, Any]:
        try:
            body = resp.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            ctype = resp.headers.get("content-type", "none").split(";")[0]
            raise PromError("error", f"{self.where} answered HTTP {resp.status_code} with "
                                     f"{preview(ctype)}, not Prometheus's JSON: is "
                                     "prometheus_url the server's address?")
        return body

    def _series(self, data: object, start: float, end: float, step_s: float,
                query: str) -> RangeLine:
        result = data.get("result") if isinstance(data, dict) else None
        if not isinstance(result, list):
            raise PromError("error", f"{self.where} answered without a result list.")
        if not result:
            which = preview(self.instance_of(query))
            raise PromError("missing", f"{self.where} has no series for this server "
                                       f"({self.settings.label} = {which}): does it scrape "
                                       "/admin/metrics?")
        grid = np.arange(start, end + step_s / 2.0, step_s)
        values = np.full(grid.size, np.nan)
        try:
            for t, v in result[0].get("values") or ():
                i = int(round((float(t) - start) / step_s))
                if 0 <= i < grid.size:
                    values[i] = float(v)  # "NaN" and "+Inf" parse as floats
        except (TypeError, ValueError, AttributeError, OverflowError):
            raise PromError("error", f"{self.where} answered points that are not numbers.") \
                from None
        return RangeLine(grid, values, step_s, query)

    def instance_of(self, query: str) -> str:
        """The label value a query selects (for the message naming what is missing)."""
        marker = f'{self.settings.label}="'
        at = query.find(marker)
        return query[at + len(marker):query.find('"', at + len(marker))] if at >= 0 else "?"

"""Two Prometheus scrapes shaped like the real server's (tests/fixtures/lmx/get-admin_metrics.prom),
ten seconds apart, and every figure they imply, worked out by hand.

Between A (t = 100) and B (t = 110):

- requests +20 (org/a +10, org/b +10), errors +1 (org/a), prompt tokens +10,000,
  completion tokens +4,000 (2,000 each), speculative accepted +300, rejected +100
- latency buckets (le 0.1 … 60, +Inf), cumulative deltas
  org/a: 2 3 4 5 6 7 9 9 9 9   (count 9, sum 24 s)
  org/b: 0 0 0 0 0 0 0 4 8 10  (count 10, sum 286 s)
  total: 2 3 4 5 6 7 9 13 17 19 (count 19, sum 310 s)
- clients: cli +10 requests, +1 error, +2,000 tokens; web (new) +10, 0, +2,000
"""

from __future__ import annotations

from pathlib import Path

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "lmx" / "get-admin_metrics.prom"
BOUNDS = ("0.1", "0.25", "0.5", "1.0", "2.5", "5.0", "10.0", "30.0", "60.0", "+Inf")

A_TOTALS = {"requests": 10, "errors": 1, "prompt": 5000, "completion": 2000,
            "accepted": 300, "rejected": 100, "ignored": 50}
B_TOTALS = {"requests": 30, "errors": 2, "prompt": 15000, "completion": 6000,
            "accepted": 600, "rejected": 200, "ignored": 50}
A_MODELS = {"org/a": (6, 1, 1200, (0, 1, 2, 3, 4, 5, 5, 5, 5, 5), 6.0),
            "org/b": (4, 0, 800, (0, 0, 0, 1, 2, 3, 4, 4, 4, 4), 14.0)}
B_MODELS = {"org/a": (16, 2, 3200, (2, 4, 6, 8, 10, 12, 14, 14, 14, 14), 30.0),
            "org/b": (14, 0, 2800, (0, 0, 0, 1, 2, 3, 4, 8, 12, 14), 300.0)}
A_CLIENTS = {"cli": (10, 2000, 1)}
B_CLIENTS = {"cli": (20, 4000, 2), "web": (10, 2000, 0)}

# What the window A → B says, by hand (see the module docstring).
EXPECTED = {
    "requests_per_s": 2.0, "errors_per_s": 0.1, "error_ratio": 0.05,
    "prompt_tps": 1000.0, "completion_tps": 400.0,
    "mean_latency": 310 / 19,
    # rank 9.5 falls in (10, 30]: 9 below, 4 inside → 10 + 20 × 0.5 / 4
    "p50": 12.5,
    # ranks 18.05 and 18.81 are past the 60 s bucket (17): the +Inf bucket → 60
    "p95": 60.0, "p99": 60.0,
    "acceptance": 0.75,
    # org/a alone: p50 rank 4.5 in (0.5, 1]: 4 below, 1 inside → 0.75;
    # p95 rank 8.55 in (5, 10]: 7 below, 2 inside → 5 + 5 × 1.55 / 2
    "a_p50": 0.75, "a_p95": 8.875, "a_tps": 200.0,
    # org/b: p50 rank 5 in (30, 60]: 4 below, 4 inside → 37.5; p95 → +Inf → 60
    "b_p50": 37.5, "b_p95": 60.0,
}


def _replace(text: str, name: str, value: float) -> str:
    return text.replace(f"\n{name} 0\n", f"\n{name} {value}\n")


def scrape(totals: dict, models: dict, clients: dict, *, in_flight: int = 0,
           queued: int = 0, ratio: str = "NaN") -> str:
    """The fixture's text with these counters, families and gauges filled in."""
    text = FIXTURE.read_text()
    for name, key in (("lmx_requests_total", "requests"), ("lmx_errors_total", "errors"),
                      ("lmx_prompt_tokens_total", "prompt"),
                      ("lmx_completion_tokens_total", "completion"),
                      ("lmx_speculative_accepted_tokens_total", "accepted"),
                      ("lmx_speculative_rejected_tokens_total", "rejected"),
                      ("lmx_speculative_ignored_tokens_total", "ignored")):
        text = _replace(text, name, totals[key])
    text = text.replace("lmx_speculative_acceptance_ratio NaN",
                        f"lmx_speculative_acceptance_ratio {ratio}")
    text = _replace(text, "lmx_in_flight_requests", in_flight)
    text = _replace(text, "lmx_queued_requests", queued)
    per_model = {"lmx_model_requests_total": 0, "lmx_model_errors_total": 1,
                 "lmx_model_tokens_total": 2}
    for family, i in per_model.items():
        rows = "".join(f'{family}{{model="{m}"}} {v[i]}\n' for m, v in models.items())
        head = f"# TYPE {family} counter\n"
        text = text.replace(head, head + rows)
    hist = "".join(
        "".join(f'lmx_request_duration_seconds_bucket{{model="{m}",le="{b}"}} {n}\n'
                for b, n in zip(BOUNDS, v[3], strict=True))
        + f'lmx_request_duration_seconds_sum{{model="{m}"}} {v[4]}\n'
        + f'lmx_request_duration_seconds_count{{model="{m}"}} {v[3][-1]}\n'
        for m, v in models.items())
    head = "# TYPE lmx_request_duration_seconds histogram\n"
    text = text.replace(head, head + hist)
    if clients:
        extra = ""
        for family, i in (("lmx_client_requests_total", 0), ("lmx_client_tokens_total", 1),
                          ("lmx_client_errors_total", 2)):
            extra += f"# HELP {family} Per client.\n# TYPE {family} counter\n"
            extra += "".join(f'{family}{{client="{c}"}} {v[i]}\n' for c, v in clients.items())
        text = text.replace("# HELP lmx_request_duration_seconds", extra
                            + "# HELP lmx_request_duration_seconds")
    return text


SCRAPE_A = scrape(A_TOTALS, A_MODELS, A_CLIENTS, in_flight=2, queued=1, ratio="0.75")
SCRAPE_B = scrape(B_TOTALS, B_MODELS, B_CLIENTS, in_flight=3, queued=2, ratio="0.75")

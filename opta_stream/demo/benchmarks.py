"""The rich demo's stored benchmark results: past runs over the last days, as files on disk.

Opta LMX keeps one JSON file per ``POST /admin/benchmark/run``, named
``<model slug>_<timestamp slug>.json``, and ``GET /admin/benchmark/results``
lists them sorted by file name: grouped by model, by time within a model,
never by time overall. The history made here, from the injected random
source and the start time, holds what a results page must show: one model
whose newest run is more than 10 % slower than the one before (a
regression), one run whose output repeats itself (coherence flag
``repetitive``), and one run with a single measured pass
(``insufficient_data``).
"""

from __future__ import annotations

import random
import re
from collections import Counter
from datetime import UTC, datetime

from opta_stream.demo.model import VERSION

__all__ = ["HARDWARE", "PROMPT", "file_name", "past_results", "repetition_ratio"]

HARDWARE = "Apple M4 Pro"
PROMPT = ("Explain, step by step, how a key-value cache speeds up autoregressive decoding in "
          "a transformer, and what it costs in memory on a laptop with unified memory.")
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_OUTPUT_TOKENS = 200
_ANSWER = ("A key-value cache keeps the keys and values of every earlier token, so each new "
           "token attends to stored tensors instead of recomputing them. Decoding becomes one "
           "matrix-vector pass per layer. The price is memory: two tensors per layer, per head "
           "and per token, which grows with the context and the batch.")
_LOOP = "the cache stores the keys and the values " * 12
# (model, base tokens/s, days ago of each run, the newest run's speed factor, flag)
_PLAN = (
    ("mlx-community/Llama-3.2-3B-Instruct-4bit", 96.0, (8.6, 5.2, 1.4), 1.0, "ok"),
    ("mlx-community/Qwen2.5-7B-Instruct-4bit", 52.0, (9.3, 6.1, 3.7, 0.6), 0.8, "ok"),
    ("mlx-community/Mistral-7B-Instruct-v0.3-4bit", 49.0, (7.2, 2.3), 1.0, "repetitive"),
    ("mlx-community/Meta-Llama-3.1-70B-Instruct-4bit", 8.0, (4.4,), 1.0, "single"),
)


def file_name(model_id: str, stamp: str) -> str:
    """The server's name for a result file: in the model id anything but letters, digits,
    ``_`` and ``-`` becomes ``_`` (60 characters at most), in the timestamp ``-``."""
    return f"{_UNSAFE.sub('_', model_id)[:60]}_{_UNSAFE.sub('-', stamp)}.json"


def repetition_ratio(text: str) -> float:
    """Share of the text's word 5-grams that occur beyond their second time."""
    words = text.lower().split()
    grams = [tuple(words[i : i + 5]) for i in range(len(words) - 4)]
    counts = Counter(grams)
    return sum(n - 2 for n in counts.values() if n > 2) / len(grams) if grams else 0.0


def _rank(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[int((len(ordered) - 1) * p / 100)]


def _stats(rng: random.Random, tps: float, runs: int, flag: str) -> dict:
    ttft = [rng.uniform(0.18, 0.32) * (52.0 / tps) ** 0.5 for _ in range(runs)]
    speed = [tps * rng.uniform(0.96, 1.03) for _ in range(runs)]
    text = _LOOP if flag == "repetitive" else _ANSWER
    produced = _OUTPUT_TOKENS if flag == "repetitive" else 61
    ratio = repetition_ratio(text)
    coherence = "repetitive" if ratio > 0.3 else "ok"
    return {
        "ttft_p50_sec": round(_rank(ttft, 50), 4), "ttft_p95_sec": round(_rank(ttft, 95), 4),
        "ttft_mean_sec": round(sum(ttft) / runs, 4),
        "toks_per_sec_p50": round(_rank(speed, 50), 2),
        "toks_per_sec_p95": round(_rank(speed, 95), 2),
        "toks_per_sec_mean": round(sum(speed) / runs, 2),
        "prompt_tokens": len(PROMPT.split()), "output_tokens": produced, "runs_completed": runs,
        "warmup_runs_discarded": 1, "output_text": text, "output_token_count": produced,
        "completed_naturally": produced < _OUTPUT_TOKENS, "repetition_ratio": round(ratio, 4),
        "coherence_flag": coherence, "tool_call": None, "skills": []}


def _result(rng: random.Random, model_id: str, at: float, tps: float, runs: int,
            flag: str) -> tuple[str, dict]:
    stamp = datetime.fromtimestamp(at, UTC).isoformat()
    body = {"model_id": model_id, "backend": "mlx", "timestamp": stamp,
            "status": "ok" if runs >= 2 else "insufficient_data", "hardware": HARDWARE,
            "lmx_version": VERSION, "prompt_preview": PROMPT[:100],
            "stats": _stats(rng, tps, runs, flag)}
    return file_name(model_id, stamp), body


def past_results(rng: random.Random, now: float) -> list[dict]:
    """Every stored result, in the order the server lists them (by file name)."""
    files: list[tuple[str, dict]] = []
    for model_id, tps, days, newest, flag in _PLAN:
        for i, ago in enumerate(days):
            last = i == len(days) - 1
            at = now - ago * 86400.0 + rng.uniform(0.0, 3600.0)
            speed = tps * (newest if last else 1.0)
            runs = 1 if flag == "single" else 5
            files.append(_result(rng, model_id, at, speed, runs,
                                 flag if last or flag == "single" else "ok"))
    return [body for _, body in sorted(files, key=lambda f: f[0])]

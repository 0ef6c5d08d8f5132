"""Decoder throughput: opta_stream.sse against sseclient-py on the same bytes.

Why: the dashboard must keep up with a fast event stream on a small machine,
so the decoder is held to at least 3x sseclient-py 1.9.0. The stream is built
in memory and cut into fixed-size chunks before timing, so only parsing is
measured. Run as ``python bench/decoder_bench.py [n_events]``.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from opta_stream.wire.sse import SSEDecoder  # noqa: E402

__all__ = ["main", "make_stream", "measure_both", "measure_ours", "measure_sseclient"]

_EVENT = (
    b'event: throughput\ndata: {"timestamp": 1795269136.40, '
    b'"tokens_per_second": 42.5, "model_id": "m"}\n\n'
)
_RUNS = 5


def make_stream(n: int = 200_000) -> bytes:
    """``n`` small throughput events, as a real stream would carry them."""
    return _EVENT * n


def _chunks(data: bytes, chunk: int) -> list[bytes]:
    """Cut ``data`` into ``chunk``-byte pieces ahead of timing."""
    return [data[i : i + chunk] for i in range(0, len(data), chunk)]


def _median_rate(
    count_events: Callable[[list[bytes]], int], pieces: list[bytes], runs: int = _RUNS
) -> float:
    """Median events per second over ``runs`` runs of ``count_events``."""
    rates = []
    for _ in range(runs):
        start = time.perf_counter()
        n = count_events(pieces)
        rates.append(n / (time.perf_counter() - start))
    return statistics.median(rates)


def _count_ours(pieces: Iterable[bytes]) -> int:
    decoder = SSEDecoder()
    feed = decoder.feed
    return sum(len(feed(piece)) for piece in pieces)


def _count_sseclient(pieces: Iterable[bytes]) -> int:
    import sseclient  # SSEClient iterates its source as byte chunks

    return sum(1 for _ in sseclient.SSEClient(iter(pieces)).events())


def measure_ours(data: bytes, chunk: int = 65536) -> float:
    """Events per second for ``SSEDecoder`` (median of 5 runs)."""
    return _median_rate(_count_ours, _chunks(data, chunk))


def measure_sseclient(data: bytes, chunk: int = 65536) -> float:
    """Events per second for sseclient-py on the same chunks (median of 5 runs)."""
    return _median_rate(_count_sseclient, _chunks(data, chunk))


def measure_both(data: bytes, chunk: int = 65536) -> tuple[float, float]:
    """(ours, sseclient) events per second, runs interleaved.

    Why: on a shared machine, load comes and goes; alternating the runs
    exposes both decoders to the same conditions, so the ratio is steadier.
    """
    pieces = _chunks(data, chunk)
    ours: list[float] = []
    theirs: list[float] = []
    for _ in range(_RUNS):
        ours.append(_median_rate(_count_ours, pieces, runs=1))
        theirs.append(_median_rate(_count_sseclient, pieces, runs=1))
    return statistics.median(ours), statistics.median(theirs)


def main(argv: list[str] | None = None) -> None:
    """Print both rates and their ratio."""
    args = sys.argv[1:] if argv is None else argv
    n = int(args[0]) if args else 200_000
    ours, theirs = measure_both(make_stream(n))
    data_len = len(_EVENT) * n
    print(f"events: {n}, bytes: {data_len}, chunk: 65536, median of {_RUNS} interleaved runs")
    print(f"opta_stream.sse : {ours:12,.0f} events/s")
    print(f"sseclient-py    : {theirs:12,.0f} events/s")
    print(f"ratio           : {ours / theirs:12.2f}x")


if __name__ == "__main__":
    main()

"""The CSV download of what a view shows, built from the snapshot it holds.

Small exports are built with the recording, once per tick for every viewer:
Streamlit keeps the previous file for one more run, so a click that races a
redraw still gets a file. Large ones (an hour of 10 Hz samples is ~50 ms and
2 MB) are built only when clicked.
"""

from __future__ import annotations

from collections.abc import Callable

from opta_stream.export.csv_files import export_filename
from opta_stream.figures.windows import snapshot_window
from opta_stream.snapshot import Snapshot
from opta_stream.views.recording import Block

__all__ = ["STATIC_CSV_ROWS", "csv_button", "window_csv"]

STATIC_CSV_ROWS = 10_000


def csv_button(out: Block, build: Callable[[], bytes], rows: int, *, file_name: str, key: str,
               help: str, label: str = "Download CSV") -> None:
    out.download(build() if rows <= STATIC_CSV_ROWS else build, file_name=file_name, key=key,
                 help=help, label=label)


def window_csv(out: Block, snap: Snapshot, kind: str, build: Callable[[float, float], bytes],
               rows: int, *, help: str, label: str = "Download CSV") -> None:
    """A page's CSV of exactly its window: named for the server, kind and span."""
    start, end = snapshot_window(snap)
    csv_button(out, lambda: build(start, end), rows,
               file_name=export_filename(snap.server, kind, start, end), key=f"{kind}_csv",
               help=help, label=label)

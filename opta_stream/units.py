"""Byte sizes in words: the one formatter every layer uses (SI units: 1 GB = 10⁹ bytes).

Memory figures from the server are already in GB; this is for byte counts
(downloads, file sizes), so that "4.40 GB" means the same thing in the
event log, on the Models page and in the demo's estimates.
"""

from __future__ import annotations

__all__ = ["byte_size"]

_UNITS = (("TB", 1e12, 2), ("GB", 1e9, 2), ("MB", 1e6, 1), ("kB", 1e3, 1))


def byte_size(n: float) -> str:
    """420 B, 12.5 MB, 4.40 GB: two decimals from a gigabyte on, one below."""
    for unit, scale, digits in _UNITS:
        if abs(n) >= scale:
            return f"{n / scale:.{digits}f} {unit}"
    return f"{n:.0f} B"

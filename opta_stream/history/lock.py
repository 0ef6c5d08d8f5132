"""One writer per server and file: an advisory lock the OS drops when the process dies.

``flock`` on a small file beside the history (one per server), so a second
dashboard on the same file reads and waits, and a killed writer (even by
SIGKILL) never leaves a stale lock behind. The lock file holds nothing.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from pathlib import Path

__all__ = ["WriterLock"]


class WriterLock:
    def __init__(self, history_path: str, identity: str) -> None:
        digest = hashlib.sha256(identity.encode("utf-8")).hexdigest()[:16]
        path = Path(history_path).expanduser()
        self.path = path.with_name(f"{path.name}.writer-{digest}.lock")
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> bool:
        """Take the lock if nobody holds it; never waits."""
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing drops the flock

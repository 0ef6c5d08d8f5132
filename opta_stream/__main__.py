"""``python -m opta_stream export …`` writes recorded history as CSV; ``record …`` keeps
recording a server without the dashboard open."""

from __future__ import annotations

import sys

from opta_stream.cli.main import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""All recorded state of one server: bounded rings and tiers, models, jobs, the log.

``Store`` is the only stateful piece: feed threads write into it, pages read
its immutable ``snapshot()``. Pure in-memory, no I/O.
"""

from opta_stream.store.core import Store

__all__ = ["Store"]

"""The embedded Opta LMX twin: a real HTTP server on loopback with simulated load.

``python -m opta_stream.demo`` serves one from the command line.
"""

from opta_stream.demo.server import DemoServer

__all__ = ["DemoServer"]

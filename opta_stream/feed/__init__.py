"""One live feed per server: the event-stream thread and the sampler thread writing a Store."""

from opta_stream.feed.feed import Feed

__all__ = ["Feed"]

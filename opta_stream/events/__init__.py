"""Typed records for what the server's event stream says, and the log's words for them.

Parsing never raises: bad input becomes a ``Malformed`` or ``Unknown`` record
(DESIGN: bad input is data). Depends on the vocabulary only.
"""

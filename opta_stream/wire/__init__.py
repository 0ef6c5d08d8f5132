"""The wire: HTTP to one Opta LMX server, and the bytes of its event stream.

Sessions and headers (the admin key only ever in ``X-Admin-Key``), reading the
server's error bodies, wording network failures, the pure SSE decoder, the
streaming transport, the admin client and the reconnect backoff. Nothing here
keeps state beyond one connection.
"""

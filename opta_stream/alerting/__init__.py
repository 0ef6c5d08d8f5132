"""Alerts: rules on each server's figures, a state machine kept in the history file, and
notifications delivered exactly once per firing, off the render path.

Pure (no network, no SQLite): ``fields``, ``rules``, ``receivers`` (the secrets file),
``engine`` (the state machine), ``plan`` (which notices, in which words), ``payloads``
(each receiver kind's body), ``journal`` (the interface) and ``memory_journal``,
``monitor`` (a round: evaluate, plan, commit). HTTP: ``sending`` (one post, scrubbing)
and ``delivery`` (the outbox's thread). The SQLite journal is ``history.alert_journal``.
This package imports none of its modules itself.
"""

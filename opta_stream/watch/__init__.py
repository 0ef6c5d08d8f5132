"""The background watch: every configured server recorded and its alert rules evaluated,
whether or not anyone has a page open.

``watch_plan`` says what a process watches (the servers, the rules and receivers, where
the journal lives), from the same settings the app and the command line read.
``alert_boards`` turns the monitor's states and the journal's rows into each server's
``snapshot.AlertBoard``; ``alert_desk`` is one process's alerting (the monitor, the
journal, the delivery worker, the boards) over a set of Stores; ``fleet_watch.Watch``
runs it over the feeds of every server in a named daemon thread. ``ui.sources`` keeps
one Watch per app process, ``cli.record`` one per recorder.
"""

"""The command line: ``python -m opta_stream export`` and ``record`` (see ``__main__``)."""

"""History on disk: one SQLite file keeps each server's tiers, serving minutes, usage
ledger, event log and gaps across restarts. The feed writes it in batches off the
render path; pages only ever read the Store."""

"""What auditors read: the keyed history, checkpoints, retention, need to know (C12) and
the monthly analysis (C11)."""

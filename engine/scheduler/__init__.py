"""Timer workers: APScheduler wiring (`worker`), exactly-once firing (`firing`), and
measurement helpers for benchmarks (`benchmark`)."""

"""Benchmarks (not collected by pytest): `python -m tests.benchmarks.run`, see run.py."""

"""Benchmark suite of the Session Service (issue 8): `python bench/run.py [--quick]`."""

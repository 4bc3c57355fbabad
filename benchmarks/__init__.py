"""Benchmarks run by ``make bench``: speed and memory targets live here, not in tests."""

"""Benchmarks (not tests): run one with `python bench/run.py NAME [--quick]`."""

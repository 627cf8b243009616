"""Benchmarks that print figures and ratios (run with `make bench`)."""

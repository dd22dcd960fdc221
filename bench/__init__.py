"""Benchmarks, run on demand (`python -m bench.<name>`); each prints its figures and its ratio to its goal."""

"""Policies with no I/O of their own: pacing, retries, the repeated-failure breaker, size limits."""

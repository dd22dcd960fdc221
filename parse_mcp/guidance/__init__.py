"""Failure -> record (`classify`) -> guidance (`table`): pure functions, no I/O."""

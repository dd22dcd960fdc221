"""Clients of the upstream services: the only code that speaks HTTP to them."""

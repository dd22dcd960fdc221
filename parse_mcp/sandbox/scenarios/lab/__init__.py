"""Failure Lab: one endpoint per documented failure, and the pages that produce them."""

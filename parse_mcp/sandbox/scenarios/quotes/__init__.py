"""Quotes: an API with revisions to make (an expired token, a changed page), and its quote pages."""

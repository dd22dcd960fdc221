"""The target web site every scraper and parser reads: its page model, its HTML reader and its router."""

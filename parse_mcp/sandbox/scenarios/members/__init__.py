"""Members Area: an API behind a login session, and the members-only pages it reads."""

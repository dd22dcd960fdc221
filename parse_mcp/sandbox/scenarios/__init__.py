"""The built-in APIs, one package each, holding the API (endpoints and scrapers) and the pages it reads."""

"""parse-mcp: an MCP server that runs and repairs Parse.bot APIs and ScraperAPI AI parsers."""

# The one place the version is written: pyproject.toml reads it from here (hatch's version source), so
# start-up never asks importlib.metadata, which scans every installed distribution.
__version__ = "0.1.0"

__all__ = ["__version__"]

"""parse-mcp: an MCP server that runs and repairs Parse.bot APIs and ScraperAPI AI parsers."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("parse-mcp")
except PackageNotFoundError:  # pragma: no cover - only when run from a tree that was never installed
    __version__ = "0.0.0"

__all__ = ["__version__"]

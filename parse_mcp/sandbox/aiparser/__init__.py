"""An emulator of ScraperAPI's AI Parser that reads the sandbox's own book site.

`aiparser_routes` serves the service's paths, bodies and status codes on an injected clock;
`render_page` serves the extra target pages under /site/ai/ that reach the documented failures
(a shop that needs JavaScript rendering, a shop behind a bot wall).
"""

from parse_mcp.sandbox.aiparser.config import AIPARSER_KEY, AiParserConfig
from parse_mcp.sandbox.aiparser.pages import render_page
from parse_mcp.sandbox.aiparser.routes import aiparser_routes

__all__ = ["AIPARSER_KEY", "AiParserConfig", "aiparser_routes", "render_page"]

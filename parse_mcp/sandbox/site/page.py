"""What a site page is, and the page skeleton both target sites share."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

HTML = "text/html; charset=utf-8"


@dataclass(frozen=True)
class SitePage:
    status: int
    html: str
    content_type: str = HTML


def html_page(title: str, body: str) -> str:
    # The head is kept short so a 500-character snippet of an error page still reaches its message.
    return (
        f'<!DOCTYPE html><html lang="en"><head><title>{escape(title)}</title></head>'
        f'<body><div class="page_inner">{body}</div></body></html>'
    )

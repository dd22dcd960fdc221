"""The quotes pages of the target site, in the spirit of quotes.toscrape.com, under /site/quotes/.

Two things here exist to break the Quotes (sandbox) API until it is revised: the author pages were
redesigned (cards instead of the old details block), and the top-quotes page wants a member access token
that has since been rotated, so the token the API stored is refused with 403.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from html import escape

from parse_mcp.sandbox.site.page import SitePage, html_page

PER_PAGE = 4
# The token the site accepts today, and the one it rotated away from (still stored in the unrevised API).
# Neither is a secret: they are fixtures of a local demo site.
ACCESS_TOKEN = "qt-2027-spring"  # noqa: S105
EXPIRED_ACCESS_TOKEN = "qt-2025-autumn"  # noqa: S105
TOP_COUNT = 3

_PAGE = re.compile(r"/site/quotes/page/([1-9][0-9]*)/")
_TAG = re.compile(r"/site/quotes/tag/([^/]+)/")
_AUTHOR = re.compile(r"/site/quotes/author/([^/]+)/")


@dataclass(frozen=True)
class Author:
    slug: str
    name: str
    born_date: str
    born_place: str
    bio: str


@dataclass(frozen=True)
class Quote:
    text: str
    author: str  # an Author slug
    tags: tuple[str, ...]
    likes: int


AUTHORS: Mapping[str, Author] = {
    author.slug: author
    for author in (
        Author("albert-einstein", "Albert Einstein", "March 14, 1879", "Ulm, Germany",
               "A theoretical physicist best known for the theory of relativity."),
        Author("jane-austen", "Jane Austen", "December 16, 1775", "Steventon Rectory, England",
               "A novelist whose six major novels look closely at the British landed gentry."),
        Author("mark-twain", "Mark Twain", "November 30, 1835", "Florida, Missouri, United States",
               "A writer and humorist, author of Adventures of Huckleberry Finn."),
        Author("marie-curie", "Marie Curie", "November 7, 1867", "Warsaw, Poland",
               "A physicist and chemist, the first person to win two Nobel Prizes."),
    )
}  # fmt: skip

QUOTES: tuple[Quote, ...] = (
    Quote("Life is like riding a bicycle. To keep your balance, you must keep moving.", "albert-einstein",
          ("life", "balance"), 412),
    Quote("The person, be it gentleman or lady, who has not pleasure in a good novel, must be intolerably "
          "stupid.", "jane-austen", ("books", "humor"), 287),
    Quote("The secret of getting ahead is getting started.", "mark-twain", ("life", "work"), 356),
    Quote("Nothing in life is to be feared, it is only to be understood.", "marie-curie",
          ("life", "science"), 198),
    Quote("Imagination is more important than knowledge.", "albert-einstein", ("science", "imagination"), 501),
    Quote("There is no charm equal to tenderness of heart.", "jane-austen", ("love",), 143),
    Quote("Kindness is the language which the deaf can hear and the blind can see.", "mark-twain",
          ("kindness",), 230),
    Quote("Be less curious about people and more curious about ideas.", "marie-curie", ("science", "ideas"), 175),
    Quote("A person who never made a mistake never tried anything new.", "albert-einstein",
          ("work", "mistakes"), 264),
    Quote("I declare after all there is no enjoyment like reading!", "jane-austen", ("books",), 121),
)  # fmt: skip


def page_count() -> int:
    return math.ceil(len(QUOTES) / PER_PAGE)


def render(path: str, query: Mapping[str, str]) -> SitePage:
    if path == "/site/quotes/":
        return _listing(1)
    if page := _PAGE.fullmatch(path):
        return _listing(int(page.group(1)))
    if tag := _TAG.fullmatch(path):
        return _tag(tag.group(1))
    if author := _AUTHOR.fullmatch(path):
        return _author(author.group(1))
    if path == "/site/quotes/top":
        return _top(query.get("token", ""))
    return _not_found(f"There is no page at {escape(path)}.")


def _quote_block(quote: Quote) -> str:
    author = AUTHORS[quote.author]
    tags = "".join(f'<a class="tag" href="/site/quotes/tag/{tag}/">{tag}</a>' for tag in quote.tags)
    return (
        f'<div class="quote" data-likes="{quote.likes}"><span class="text">{escape(quote.text)}</span>'
        f'<span>by <small class="author">{escape(author.name)}</small> '
        f'<a href="/site/quotes/author/{author.slug}/">(about)</a></span>'
        f'<div class="tags">Tags: {tags}</div></div>'
    )


def _listing(page: int) -> SitePage:
    pages = page_count()
    if page > pages:
        return _not_found(f"Page {page} does not exist: there are {pages} pages of quotes.")
    first = (page - 1) * PER_PAGE
    quotes = "".join(_quote_block(quote) for quote in QUOTES[first : first + PER_PAGE])
    pager = f'<li class="current">Page {page} of {pages}</li>'
    if page > 1:
        pager = f'<li class="previous"><a href="/site/quotes/page/{page - 1}/">Previous</a></li>' + pager
    if page < pages:
        pager += f'<li class="next"><a href="/site/quotes/page/{page + 1}/">Next</a></li>'
    body = (
        "<h1>Quotes to Scrape (sandbox)</h1>"
        '<p><a href="/site/quotes/top">Members: top quotes</a></p>'
        f'<div class="quotes">{quotes}</div><ul class="pager">{pager}</ul>'
    )
    return SitePage(200, html_page("Quotes to Scrape", body))


def _tag(tag: str) -> SitePage:
    # As on quotes.toscrape.com, an unused tag is an empty page, not a 404.
    quotes = "".join(_quote_block(quote) for quote in QUOTES if tag in quote.tags)
    body = f'<h1>Quotes tagged <span class="tag-name">{escape(tag)}</span></h1><div class="quotes">{quotes}</div>'
    return SitePage(200, html_page(f"Tag: {tag}", body))


def _author(slug: str) -> SitePage:
    author = AUTHORS.get(slug)
    if author is None:
        return _not_found(f"No author has the address {escape(slug)}.")
    # The new design: a card. The old one was <div class="author-details"><h3 class="author-title">.
    body = (
        '<section class="author-card">'
        f'<h2 class="author-name">{escape(author.name)}</h2>'
        f'<p class="born">Born <span class="born-date">{escape(author.born_date)}</span> in '
        f'<span class="born-place">{escape(author.born_place)}</span></p>'
        f'<div class="bio">{escape(author.bio)}</div></section>'
    )
    return SitePage(200, html_page(author.name, body))


def _top(token: str) -> SitePage:
    if token != ACCESS_TOKEN:
        reason = "no access token was sent" if not token else "the access token sent has expired"
        body = f"<h1>403 Forbidden</h1><p>Top quotes are for members: {reason}.</p>"
        return SitePage(403, html_page("403 Forbidden", body))
    best = sorted(QUOTES, key=lambda quote: -quote.likes)[:TOP_COUNT]
    body = f'<h1>Top quotes</h1><div class="quotes top">{"".join(_quote_block(q) for q in best)}</div>'
    return SitePage(200, html_page("Top quotes", body))


def _not_found(detail: str) -> SitePage:
    body = f'<h1>Page not found</h1><p>{detail}</p><p><a href="/site/quotes/">Back to the quotes</a></p>'
    return SitePage(404, html_page("404 Not Found", body))

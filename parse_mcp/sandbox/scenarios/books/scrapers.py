"""The Books Catalogue API's scrapers: they read the sandbox's book site and parse its HTML."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from parse_mcp.sandbox.parsebot.envelopes import JsonObject, input_format_invalid, scraper_bug, stale_input
from parse_mcp.sandbox.parsebot.execution import Call, fetch, fetch_document, require
from parse_mcp.sandbox.scenarios.books.pages import RATING_WORDS, SORTS
from parse_mcp.sandbox.site.dom import Element

PAGE_MESSAGE = "page must be a positive integer"
SORT_MESSAGE = "sort must be one of: " + ", ".join(SORTS)
MAX_PRICE_MESSAGE = "max_price must be a number"
RATINGS_MESSAGE = "ratings must be a JSON array of integers from 1 to 5"
IN_STOCK = "In stock"


@dataclass(frozen=True)
class ListedBook:
    """A book as a listing page shows it."""

    title: str
    slug: str
    price: float
    rating: int
    availability: str


def list_books(call: Call) -> JsonObject:
    page = call.params.integer("page", PAGE_MESSAGE)
    if page is None or page < 1:
        raise input_format_invalid(PAGE_MESSAGE)
    sort = call.params.text("sort") or "title"
    if sort not in SORTS:
        raise input_format_invalid(SORT_MESSAGE)
    query = {} if sort == "title" else {"sort": sort}
    document = fetch_document(call, f"/site/catalogue/page-{page}.html", query)
    current, pages = _pager(document)
    return {"page": current, "pages": pages, "books": [asdict(book) for book in _listed_books(document)]}


def search_books(call: Call) -> JsonObject:
    query = call.params.required_text("query")
    max_price = call.params.number("max_price", MAX_PRICE_MESSAGE)
    ratings = call.params.integer_list("ratings", RATINGS_MESSAGE)
    if ratings is not None and not all(1 <= r <= 5 for r in ratings):
        raise input_format_invalid(RATINGS_MESSAGE)
    in_stock_only = bool(call.params.boolean("in_stock_only"))
    matches = [
        book
        for book in _crawl_listing(call)
        if query.casefold() in book.title.casefold()
        and (max_price is None or book.price <= max_price)
        and (ratings is None or book.rating in ratings)
        and (not in_stock_only or book.availability == IN_STOCK)
    ]
    return {"query": query, "count": len(matches), "books": [asdict(book) for book in matches]}


def get_book(call: Call) -> JsonObject:
    slug = call.params.required_text("slug")
    fetched = fetch(call, f"/site/catalogue/{slug}/index.html")
    if fetched.page.status == 410:
        raise stale_input(
            f"The book '{slug}' is gone (the site answered 410): it was withdrawn from the catalogue.",
            kind="input_not_found",
            upstream_status_code=410,
            url=fetched.url,
        )
    if not fetched.ok:
        raise fetched.as_upstream_error()
    document = fetched.document()
    main = require(document.find("div", cls="product_main"))
    return {
        "title": require(main.find("h1")).text(),
        "slug": slug,
        "price": _price(require(main.find("p", cls="price_color"))),
        "rating": _rating(require(main.find("p", cls="star-rating"))),
        "upc": _product_table(document).get("UPC", ""),
        "availability": require(main.find("p", cls="availability")).text(),
        "category": _category(document),
        "description": _description(document),
    }


def _crawl_listing(call: Call) -> list[ListedBook]:
    """Every listed book, following the pager's next links as a crawler would."""
    books: list[ListedBook] = []
    page = 1
    while True:
        document = fetch_document(call, f"/site/catalogue/page-{page}.html")
        books.extend(_listed_books(document))
        if document.find("li", cls="next") is None:
            return books
        page += 1


def _listed_books(document: Element) -> list[ListedBook]:
    return [_pod(pod) for pod in document.find_all("article", cls="product_pod")]


def _pod(pod: Element) -> ListedBook:
    link = require(require(pod.find("h3")).find("a"))
    return ListedBook(
        title=link.attrs.get("title") or link.text(),
        slug=_slug_from_href(link.attrs.get("href", "")),
        price=_price(require(pod.find("p", cls="price_color"))),
        rating=_rating(require(pod.find("p", cls="star-rating"))),
        availability=require(pod.find("p", cls="availability")).text(),
    )


def _slug_from_href(href: str) -> str:
    """`a-light-in-the-attic_1000/index.html` → `a-light-in-the-attic_1000`."""
    parts = [part for part in href.split("/") if part not in {"", ".", "..", "index.html"}]
    return parts[-1] if parts else ""


def _pager(document: Element) -> tuple[int, int]:
    # "Page 2 of 3" is the only place the site states how many pages there are.
    words = require(document.find("li", cls="current")).text().split()
    if len(words) != 4 or not words[1].isdigit() or not words[3].isdigit():
        raise scraper_bug()
    return int(words[1]), int(words[3])


def _price(element: Element) -> float:
    try:
        return float(element.text().lstrip("£$"))
    except ValueError:
        raise scraper_bug() from None


def _rating(element: Element) -> int:
    for word in element.classes():
        if word in RATING_WORDS:
            return RATING_WORDS.index(word)
    raise scraper_bug()


def _product_table(document: Element) -> dict[str, str]:
    facts: dict[str, str] = {}
    for row in require(document.find("table", cls="table")).find_all("tr"):
        header, cell = row.find("th"), row.find("td")
        if header is not None and cell is not None:
            facts[header.text()] = cell.text()
    return facts


def _category(document: Element) -> str:
    crumbs = require(document.find("ul", cls="breadcrumb")).find_all("li")
    # Home > Books > <category> > <title>: the category is the crumb before the active one.
    return crumbs[-2].text() if len(crumbs) >= 2 else ""


def _description(document: Element) -> str:
    children = require(document.find("article", cls="product_page")).elements()
    for index, child in enumerate(children[:-1]):
        if child.attrs.get("id") == "product_description":
            return children[index + 1].text()
    return ""

"""The Books Catalogue's pages: a small book catalogue in the spirit of books.toscrape.com, the site's root.

`parse_mcp.sandbox.site.router` sends it every /site/ path that no other family claims.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from html import escape

from parse_mcp.sandbox.site.page import SitePage, html_page

PER_PAGE = 5
SORTS = ("title", "price_asc", "price_desc", "rating")
RATING_WORDS = ("Zero", "One", "Two", "Three", "Four", "Five")

_LISTING = re.compile(r"/site/catalogue/page-([1-9][0-9]*)\.html")
_DETAIL = re.compile(r"/site/catalogue/([^/]+)/index\.html")


@dataclass(frozen=True)
class Book:
    book_id: int
    title: str
    price: Decimal
    rating: int
    upc: str
    category: str
    description: str
    stock: int
    withdrawn: bool = False

    @property
    def slug(self) -> str:
        words = re.sub(r"[^a-z0-9]+", "-", self.title.lower().replace("'", "")).strip("-")
        return f"{words}_{self.book_id}"

    @property
    def availability(self) -> str:
        return "In stock" if self.stock > 0 else "Out of stock"

    @property
    def availability_detail(self) -> str:
        return f"In stock ({self.stock} available)" if self.stock > 0 else "Out of stock"


BOOKS: tuple[Book, ...] = (
    Book(1000, "A Light in the Attic", Decimal("51.77"), 3, "a897fe39b1053632", "Poetry",
         "Poems and drawings for children of every age, some silly and some quietly wise.", 22),
    Book(999, "Tipping the Velvet", Decimal("53.74"), 1, "90fa61229261140a", "Historical Fiction",
         "A Victorian oyster girl follows a music-hall singer to London and into a hidden world.", 20),
    Book(998, "Soumission", Decimal("50.10"), 1, "6957f44c3847a760", "Fiction",
         "A tired literature professor watches French politics turn around him.", 20),
    Book(997, "Sharp Objects", Decimal("47.82"), 4, "e00eb4fd7b871a48", "Mystery",
         "A reporter returns to her small home town to cover the murders of two girls.", 20),
    Book(996, "Sapiens: A Brief History of Humankind", Decimal("54.23"), 5, "4165285e1663650f", "History",
         "How one species of ape came to run the planet, told in a few hundred pages.", 20),
    Book(995, "The Requiem Red", Decimal("22.65"), 1, "f77dbf2323deb740", "Young Adult",
         "A choir, a missing score and a winter that will not end.", 0, withdrawn=True),
    Book(994, "The Dirty Little Secrets of Getting Your Dream Job", Decimal("33.34"), 4, "2597b5a345f45e1b",
         "Business", "What hiring managers look for, from someone who sat on their side of the desk.", 19),
    Book(993, "The Black Maria", Decimal("52.15"), 1, "3b1c02bac2a429e6", "Poetry",
         "A book-length sequence of poems about Thomas Jefferson and the people around him.", 0),
    Book(992, "Starving Hearts (Triangular Trade Trilogy, #1)", Decimal("13.99"), 2, "a22124811bfa8350",
         "Default", "A young captain's first voyage puts him on the wrong side of history.", 19),
    Book(991, "Shakespeare's Sonnets", Decimal("20.66"), 4, "30a7f60cd76ca58c", "Poetry",
         "All one hundred and fifty-four sonnets, with short notes on the hard words.", 19),
    Book(990, "Set Me Free", Decimal("17.46"), 5, "ce6396b0f23f6ecc", "Young Adult",
         "A runaway finds work on a horse farm and a reason to stay.", 19),
    Book(989, "Scott Pilgrim's Precious Little Life (Scott Pilgrim #1)", Decimal("52.29"), 5,
         "3b1c02bac2a429e7", "Sequential Art", "A slacker bassist must defeat seven evil exes to date a girl.", 0),
    Book(988, "Rip it Up and Start Again", Decimal("35.02"), 5, "a34ba96d4081e6a4", "Music",
         "Post-punk from 1978 to 1984, band by band and city by city.", 19),
)  # fmt: skip

BOOKS_BY_SLUG: Mapping[str, Book] = {book.slug: book for book in BOOKS}
_SORT_KEYS: Mapping[str, Callable[[Book], tuple[object, ...]]] = {
    "title": lambda b: (b.title.casefold(),),
    "price_asc": lambda b: (b.price, b.title.casefold()),
    "price_desc": lambda b: (-b.price, b.title.casefold()),
    "rating": lambda b: (-b.rating, b.title.casefold()),
}


def listed_books(sort: str = "title") -> list[Book]:
    """Books on sale, in listing order; withdrawn books are no longer listed, only their pages remain."""
    key = _SORT_KEYS.get(sort, _SORT_KEYS["title"])
    return sorted((book for book in BOOKS if not book.withdrawn), key=key)


def page_count() -> int:
    return math.ceil(len(listed_books()) / PER_PAGE)


def render(path: str, query: Mapping[str, str]) -> SitePage:
    """The catalogue page at `path` (already URL-decoded, starting with /site/), or the site's 404 page."""
    if path == "/site/":
        return _home()
    if path == "/site/catalogue/":
        # The catalogue's own address shows its first page, so a build of any /site/catalogue/ URL has a page.
        return _listing(1, query.get("sort", "title"))
    if listing := _LISTING.fullmatch(path):
        return _listing(int(listing.group(1)), query.get("sort", "title"))
    if detail := _DETAIL.fullmatch(path):
        return _detail(detail.group(1))
    return _not_found("Page not found", f"There is no page at {escape(path)}.")


def _home() -> SitePage:
    counts: dict[str, int] = {}
    for book in listed_books():
        counts[book.category] = counts.get(book.category, 0) + 1
    categories = "".join(f"<li>{escape(name)} ({n})</li>" for name, n in sorted(counts.items()))
    body = (
        "<h1>Books to Scrape (sandbox)</h1>"
        "<p>A small catalogue that the Parse.bot sandbox's scrapers read. Prices are in pounds.</p>"
        '<p><a href="catalogue/page-1.html">Browse all books</a></p>'
        f'<h2>Categories</h2><ul class="categories">{categories}</ul>'
        '<h2>Elsewhere on this site</h2><ul class="elsewhere"><li><a href="quotes/">Quotes</a></li>'
        '<li><a href="weather/">City weather</a></li><li><a href="members/">Members area</a></li>'
        '<li><a href="lab/">Failure Lab</a></li></ul>'
    )
    return SitePage(200, html_page("Home", body))


def _listing(page: int, sort: str) -> SitePage:
    books = listed_books(sort)
    pages = page_count()
    if page > pages:
        return _not_found("Page not found", f"Page {page} does not exist: the catalogue has {pages} pages.")
    first = (page - 1) * PER_PAGE
    shown = books[first : first + PER_PAGE]
    suffix = "" if sort == "title" else f"?sort={escape(sort)}"
    pods = "".join(_product_pod(book) for book in shown)
    pager = f'<li class="current">Page {page} of {pages}</li>'
    if page > 1:
        pager = f'<li class="previous"><a href="page-{page - 1}.html{suffix}">previous</a></li>' + pager
    if page < pages:
        pager += f'<li class="next"><a href="page-{page + 1}.html{suffix}">next</a></li>'
    body = (
        "<h1>All products</h1>"
        f'<form class="form-horizontal"><strong>{len(books)}</strong> results - showing '
        f"<strong>{first + 1}</strong> to <strong>{first + len(shown)}</strong>.</form>"
        f'<ol class="row">{pods}</ol><ul class="pager">{pager}</ul>'
    )
    return SitePage(200, html_page("All products", body))


def _product_pod(book: Book) -> str:
    short = book.title if len(book.title) <= 40 else book.title[:37] + "..."
    return (
        '<li><article class="product_pod">'
        f'<p class="star-rating {RATING_WORDS[book.rating]}"></p>'
        f'<h3><a href="{book.slug}/index.html" title="{escape(book.title)}">{escape(short)}</a></h3>'
        f'<div class="product_price"><p class="price_color">£{book.price}</p>'
        f'<p class="instock availability">{book.availability}</p></div>'
        "</article></li>"
    )


def _detail(slug: str) -> SitePage:
    book = BOOKS_BY_SLUG.get(slug)
    if book is None:
        return _not_found("Product not found", f"No book in the catalogue has the address {escape(slug)}.")
    if book.withdrawn:
        body = f"<h1>Gone</h1><p>{escape(book.title)} has been withdrawn from the catalogue and will not return.</p>"
        return SitePage(410, html_page("410 Gone", body))
    body = book_markup(book, home="../../", listing="../page-1.html")
    return SitePage(200, html_page(book.title, body))


def _not_found(heading: str, detail: str) -> SitePage:
    body = f'<h1>{heading}</h1><p>{detail}</p><p><a href="/site/">Back to the catalogue</a></p>'
    return SitePage(404, html_page("404 Not Found", body))


def book_markup(book: Book, *, home: str, listing: str) -> str:
    """A book's page content: breadcrumb, title, price, availability, rating, description and product table.
    The AI Parser's JavaScript shop renders the same markup, so one reader serves both shops."""
    rows = (
        ("UPC", book.upc),
        ("Product Type", "Books"),
        ("Price (excl. tax)", f"£{book.price}"),
        ("Availability", book.availability_detail),
    )
    table = "".join(f"<tr><th>{name}</th><td>{escape(value)}</td></tr>" for name, value in rows)
    return (
        f'<ul class="breadcrumb"><li><a href="{home}">Home</a></li><li><a href="{listing}">Books</a></li>'
        f'<li><a href="{listing}">{escape(book.category)}</a></li>'
        f'<li class="active">{escape(book.title)}</li></ul>'
        '<article class="product_page"><div class="product_main">'
        f'<h1>{escape(book.title)}</h1><p class="price_color">£{book.price}</p>'
        f'<p class="instock availability">{book.availability_detail}</p>'
        f'<p class="star-rating {RATING_WORDS[book.rating]}"></p></div>'
        '<div id="product_description" class="sub-header"><h2>Product Description</h2></div>'
        f"<p>{escape(book.description)}</p>"
        f'<table class="table table-striped">{table}</table></article>'
    )

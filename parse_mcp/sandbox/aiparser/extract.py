"""The emulator's "AI": it reads a page of the sandbox site and fills a parser's fields deterministically.

A page is read once into records of known facts (title, price, rating, ...). A field is matched to one of
those facts by keywords in its name, then in its description; dot notation (`books.title`) turns the part
before the dot into a list with one object per item on the page.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urljoin

from parse_mcp.sandbox.scenarios.books.pages import RATING_WORDS
from parse_mcp.sandbox.site.dom import Element

FieldType = Literal["string", "number", "array"]
FIELD_TYPES: tuple[FieldType, ...] = ("string", "number", "array")
PageKind = Literal["product", "category", "other"]
JsonObject = dict[str, object]

_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class Field:
    name: str
    description: str
    type: FieldType = "string"

    def as_json(self) -> dict[str, str]:
        return {"name": self.name, "description": self.description, "type": self.type}


@dataclass(frozen=True)
class Fact:
    """One thing a page states: as shown (`text`) and, where it is a quantity, as a number."""

    text: str
    number: int | float | None = None


Record = Mapping[str, Fact]


@dataclass(frozen=True)
class PageData:
    """A page as the parser understands it: its kind, facts about the page, and the items it lists."""

    kind: PageKind
    page: Record
    items: tuple[Record, ...]


# The fields generation infers when the caller gives none, per page kind.
_INFERRED: Mapping[PageKind, tuple[Field, ...]] = {
    "product": (
        Field("title", "The book's title", "string"),
        Field("price", "Price in pounds as a number, without the currency symbol", "number"),
        Field("rating", "Star rating from 1 to 5", "number"),
        Field("availability", "Stock status as the page shows it", "string"),
        Field("upc", "The book's Universal Product Code", "string"),
        Field("category", "The category shown in the breadcrumb", "string"),
    ),
    "category": (
        Field("books.title", "Title of each book in the list", "string"),
        Field("books.price", "Price of each book in pounds, as a number", "number"),
        Field("books.rating", "Star rating of each book from 1 to 5", "number"),
        Field("books.url", "Link to each book's page", "string"),
    ),
    "other": (Field("title", "The main heading of the page", "string"),),
}

# Words that point a field at a fact. None marks things this site never states (an author, a publisher):
# a field about them extracts null rather than borrowing a neighbour's value through a word like "name".
_KEYWORDS: Mapping[str, str | None] = {
    "title": "title",
    "name": "title",
    "heading": "title",
    "price": "price",
    "cost": "price",
    "rating": "rating",
    "star": "rating",
    "stars": "rating",
    "availability": "availability",
    "available": "availability",
    "stock": "availability",
    "description": "description",
    "summary": "description",
    "synopsis": "description",
    "blurb": "description",
    "upc": "upc",
    "sku": "upc",
    "category": "category",
    "categories": "category",
    "genre": "category",
    "url": "url",
    "link": "url",
    "href": "url",
    "author": None,
    "writer": None,
    "publisher": None,
    "isbn": None,
}


def inferred_fields(kind: PageKind) -> tuple[Field, ...]:
    return _INFERRED[kind]


def fact_for(field: Field) -> str | None:
    """The fact a field asks for: the first keyword in its name's last part, else in its description."""
    last_part = field.name.rsplit(".", 1)[-1]
    for text in (last_part, field.description):
        for word in _words(text):
            key = word if word in _KEYWORDS else word.removesuffix("s")
            if key in _KEYWORDS:
                return _KEYWORDS[key]
    return None


def _words(text: str) -> list[str]:
    # `productName` and `product_name` both read as "product name".
    return _WORD.findall(_CAMEL.sub(r"\1 \2", text).lower())


def extract(fields: tuple[Field, ...], data: PageData) -> JsonObject:
    """The result object for one page, keyed by the fields; a dotted field fills one object per item."""
    result: JsonObject = {}
    lists: dict[str, list[tuple[list[str], Field]]] = {}
    for field in fields:
        head, _, rest = field.name.partition(".")
        if rest:
            result.setdefault(head, [])  # keeps the list where the caller first named it
            lists.setdefault(head, []).append((rest.split("."), field))
        else:
            result[head] = _top_level(field, data)
    for head, members in lists.items():
        result[head] = [_item(members, record) for record in data.items]
    return result


def _top_level(field: Field, data: PageData) -> object:
    if field.type == "array":
        # An array at the top gathers the fact from every item, or from the page itself when it lists none.
        records = data.items or (data.page,)
        return [value for record in records if (value := _value(field, record, "string")) is not None]
    return _value(field, data.page, field.type)


def _item(members: list[tuple[list[str], Field]], record: Record) -> JsonObject:
    item: JsonObject = {}
    for path, field in members:
        node = item
        for part in path[:-1]:
            child = node.setdefault(part, {})
            # Field names were checked for prefix clashes, so an intermediate part is always an object.
            assert isinstance(child, dict)
            node = child
        if field.type == "array":
            value = _value(field, record, "string")
            node[path[-1]] = [] if value is None else [value]
        else:
            node[path[-1]] = _value(field, record, field.type)
    return item


def _value(field: Field, record: Record, as_type: FieldType) -> str | int | float | None:
    key = fact_for(field)
    fact = record.get(key) if key is not None else None
    if fact is None:
        return None
    return fact.number if as_type == "number" else fact.text


def read_page(document: Element, url: str) -> PageData:
    """What a page of the book sites holds: a book, a list of books, or just a heading and some text."""
    main = document.find("div", cls="product_main")
    if main is not None:
        book = _product(document, main, url)
        return PageData("product", book, (book,))
    pods = document.find_all("article", cls="product_pod")
    page = _facts(title=_text_fact(document.find("h1")), url=Fact(url))
    if pods:
        return PageData("category", page, tuple(_pod(pod, url) for pod in pods))
    return PageData("other", {**page, **_facts(description=_text_fact(document.find("p")))}, ())


def _product(document: Element, main: Element, url: str) -> Record:
    table = document.find("table", cls="table")
    rows = table.find_all("tr") if table is not None else []
    facts = {_text(row.find("th")): _text(row.find("td")) for row in rows}
    crumbs = document.find("ul", cls="breadcrumb")
    crumb_items = crumbs.find_all("li") if crumbs is not None else []
    return _facts(
        title=_text_fact(main.find("h1")),
        price=_price(main.find("p", cls="price_color")),
        rating=_rating(main.find("p", cls="star-rating")),
        availability=_availability(main.find("p", cls="availability")),
        description=_text_fact(_after(document, "product_description")),
        upc=Fact(facts["UPC"]) if facts.get("UPC") else None,
        # Home > Books > <category> > <title>: the category is the crumb before the active one.
        category=_text_fact(crumb_items[-2]) if len(crumb_items) >= 2 else None,
        url=Fact(url),
    )


def _pod(pod: Element, page_url: str) -> Record:
    heading = pod.find("h3")
    link = heading.find("a") if heading is not None else None
    return _facts(
        title=Fact(link.attrs.get("title") or link.text()) if link is not None else None,
        price=_price(pod.find("p", cls="price_color")),
        rating=_rating(pod.find("p", cls="star-rating")),
        availability=_availability(pod.find("p", cls="availability")),
        url=Fact(urljoin(page_url, link.attrs["href"])) if link is not None and "href" in link.attrs else None,
    )


def _facts(**facts: Fact | None) -> dict[str, Fact]:
    return {name: fact for name, fact in facts.items() if fact is not None}


def _text(element: Element | None) -> str:
    return element.text() if element is not None else ""


def _text_fact(element: Element | None) -> Fact | None:
    text = _text(element)
    return Fact(text) if text else None


def _after(document: Element, element_id: str) -> Element | None:
    """The element that follows the one with `element_id` among its siblings (the description paragraph)."""
    for parent in document.descendants():
        children = parent.elements()
        for index, child in enumerate(children[:-1]):
            if child.attrs.get("id") == element_id:
                return children[index + 1]
    return None


def _price(element: Element | None) -> Fact | None:
    text = _text(element)
    number = _NUMBER.search(text)
    return Fact(text, float(number.group())) if number else None


def _rating(element: Element | None) -> Fact | None:
    if element is None:
        return None
    # The stars are drawn by CSS; the count is only in the class name, e.g. "star-rating Three".
    for word in element.classes():
        if word in RATING_WORDS:
            return Fact(word, RATING_WORDS.index(word))
    return None


def _availability(element: Element | None) -> Fact | None:
    text = _text(element)
    if not text:
        return None
    count = _NUMBER.search(text)
    if count is not None:
        return Fact(text, int(float(count.group())))
    return Fact(text, 0 if "out of stock" in text.lower() else None)

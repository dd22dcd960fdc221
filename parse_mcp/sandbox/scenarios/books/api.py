"""The Books Catalogue API: three endpoints that scrape the catalogue pages, the sandbox's friendly API."""

from __future__ import annotations

from parse_mcp.sandbox.parsebot.apis import ScraperApi, ScraperEndpoint, ScraperParam
from parse_mcp.sandbox.parsebot.json_schema import INTEGER, NUMBER, STRING, array_of, obj
from parse_mcp.sandbox.parsebot.sdk_model import SdkModel, error, operation, page_numbers, resource, single_page
from parse_mcp.sandbox.scenarios.books import scrapers

BOOKS_API_ID = "7f3c2a91-4b8e-4d2a-9c61-b00c5a1e0001"
BOOKS_TASK_ID = "task-7f3c2a91-books"
WITHDRAWN_BOOK_SLUG = "the-requiem-red_995"

_LISTED_BOOK = obj(title=STRING, slug=STRING, price=NUMBER, rating=INTEGER, availability=STRING)
_BOOK_LIST = array_of(_LISTED_BOOK)

# A book as the SDK's typed client shows it: the listing fields, and the details only get_book reads.
_BOOK_FIELDS = {
    "title": "str",
    "slug": "str",
    "price": "float",
    "rating": "int",
    "availability": "str",
    "upc": "Optional[str]",
    "category": "Optional[str]",
    "description": "Optional[str]",
}
BOOKS_MODEL = SdkModel(
    resources={
        "Book": resource(
            {
                "list": operation("list_books", ["sort"], "List[Book]", page_numbers("page", "books", "page", "pages")),
                "get": operation("get_book", ["slug"], "Book"),
                "search": operation(
                    "search_books",
                    ["query", "max_price", "ratings", "in_stock_only"],
                    "List[Book]",
                    single_page("books"),
                ),
            },
            _BOOK_FIELDS,
            keyed_by="slug",
        )
    },
    errors={
        "BookNotFound": error(
            "input_not_found", "The book was withdrawn from the shop: asking again will not bring it back.", ["slug"]
        ),
        "InvalidBookQuery": error("input_format_invalid", "A parameter is not in the form the shop accepts."),
    },
    root_name="Books",
    example_call="books.get(slug='a-light-in-the-attic_1000').title",
)

BOOKS_API = ScraperApi(
    id=BOOKS_API_ID,
    slug="books-catalogue-sandbox",
    name="Books Catalogue (sandbox)",
    description=(
        "Reads the sandbox's book shop (/site/, 12 books listed, 5 a page, prices in pounds): list a page of "
        "the catalogue, get one book's details, or search titles. Each successful call costs 1 credit; "
        "failed calls are free."
    ),
    site_path="/site/",
    task_id=BOOKS_TASK_ID,
    task="get book titles, prices, ratings and details, and search books by title",
    sdk=BOOKS_MODEL,
    endpoints=(
        ScraperEndpoint(
            name="list_books",
            method="GET",
            description=(
                "List one page of the catalogue (5 books a page): title, slug, price, star rating (1-5) and "
                "availability of each book, with the page number and the total number of pages. A page past "
                "the last one fails with 502 upstream_error, upstream_status_code 404 (the site's own 404 page "
                "in snippet); a page that is not a positive integer fails with 422 stale_input, kind "
                "input_format_invalid."
            ),
            handler=scrapers.list_books,
            params={
                "page": ScraperParam("integer", "Page number, from 1.", default=1),
                "sort": ScraperParam(
                    "string",
                    "Order of the whole catalogue before paging: title (A-Z), price_asc, price_desc, or rating "
                    "(best first).",
                    default="title",
                    choices=("title", "price_asc", "price_desc", "rating"),
                ),
            },
            return_schema=obj(page=INTEGER, pages=INTEGER, books=_BOOK_LIST),
        ),
        ScraperEndpoint(
            name="get_book",
            method="POST",
            description=(
                "Get one book by its slug (as returned by list_books or search_books): title, price, rating, "
                "UPC, availability, category and description. An unknown slug fails with 502 upstream_error, "
                "upstream_status_code 404. A book withdrawn from the shop fails with 422 stale_input, kind "
                f"input_not_found, upstream_status_code 410 (slug '{WITHDRAWN_BOOK_SLUG}' is one)."
            ),
            handler=scrapers.get_book,
            params={
                "slug": ScraperParam("string", "The book's slug, e.g. 'a-light-in-the-attic_1000'.", required=True),
            },
            return_schema=obj(
                title=STRING,
                slug=STRING,
                price=NUMBER,
                rating=INTEGER,
                upc=STRING,
                availability=STRING,
                category=STRING,
                description=STRING,
            ),
        ),
        ScraperEndpoint(
            name="search_books",
            method="GET",
            description=(
                "Search the listed books by title (case-insensitive substring), optionally at or under a "
                "maximum price, with given star ratings, or in stock only. Reads every listing page. A max_price "
                "that is not a number, or ratings that are not a list of integers from 1 to 5, fail with 422 "
                "stale_input, kind input_format_invalid."
            ),
            handler=scrapers.search_books,
            params={
                "query": ScraperParam(
                    "string", "Text to find in book titles; empty matches every book.", required=True
                ),
                "max_price": ScraperParam("number", "Only books at or under this price, in pounds."),
                "ratings": ScraperParam("array", "Only books with one of these star ratings, e.g. [4, 5]."),
                "in_stock_only": ScraperParam("boolean", "Only books currently in stock.", default=False),
            },
            return_schema=obj(query=STRING, count=INTEGER, books=_BOOK_LIST),
        ),
    ),
)

"""A tiny element tree over html.parser, enough for the sandbox's scrapers to read its own site."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser

_VOID_TAGS = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
)
_WHITESPACE = re.compile(r"\s+")


@dataclass
class Element:
    tag: str
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[Element | str] = field(default_factory=list)

    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def elements(self) -> list[Element]:
        return [child for child in self.children if isinstance(child, Element)]

    def descendants(self) -> Iterator[Element]:
        for child in self.elements():
            yield child
            yield from child.descendants()

    def find_all(self, tag: str | None = None, cls: str | None = None, id_: str | None = None) -> list[Element]:
        return [el for el in self.descendants() if _matches(el, tag, cls, id_)]

    def find(self, tag: str | None = None, cls: str | None = None, id_: str | None = None) -> Element | None:
        return next((el for el in self.descendants() if _matches(el, tag, cls, id_)), None)

    def text(self) -> str:
        """The visible text, whitespace collapsed the way a browser shows it."""
        return _WHITESPACE.sub(" ", "".join(self._raw_text())).strip()

    def _raw_text(self) -> Iterator[str]:
        for child in self.children:
            if isinstance(child, str):
                yield child
            else:
                yield from child._raw_text()


def _matches(el: Element, tag: str | None, cls: str | None, id_: str | None) -> bool:
    return (
        (tag is None or el.tag == tag)
        and (cls is None or cls in el.classes())
        and (id_ is None or el.attrs.get("id") == id_)
    )


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document")
        self._open: list[Element] = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {name: value or "" for name, value in attrs})
        self._open[-1].children.append(element)
        if tag not in _VOID_TAGS:
            self._open.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._open[-1].children.append(Element(tag, {name: value or "" for name, value in attrs}))

    def handle_endtag(self, tag: str) -> None:
        # Close up to the nearest open element of that name; a stray end tag is ignored, as browsers do.
        for depth in range(len(self._open) - 1, 0, -1):
            if self._open[depth].tag == tag:
                del self._open[depth:]
                return

    def handle_data(self, data: str) -> None:
        self._open[-1].children.append(data)


def parse_html(html: str) -> Element:
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root

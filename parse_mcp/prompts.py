"""MCP prompts, loaded from the `prompts/` templates shipped in the wheel.

A template is a small header (`title:`, `description:`, `argument: name | description | required`)
then `---`, then the text, with `$name` placeholders (`string.Template`, so JSON braces stay literal).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from string import Template

from mcp.server.mcpserver.prompts.base import Prompt, PromptArgument

_CODE = re.compile(r"`([a-z_]+)`")


@dataclass(frozen=True, slots=True)
class PromptTemplate:
    name: str
    title: str
    description: str
    arguments: tuple[PromptArgument, ...]
    body: str

    def render(self, values: dict[str, str]) -> str:
        filled = {arg.name: values.get(arg.name) or "(not given)" for arg in self.arguments}
        return Template(self.body).safe_substitute(filled)

    def tools_named(self, tools: Iterable[str]) -> frozenset[str]:
        """Which of `tools` the text names (as `name` in backticks): a prompt is offered only with all of them."""
        named = set(_CODE.findall(self.body))
        return frozenset(tool for tool in tools if tool in named)

    def as_prompt(self) -> Prompt:
        def render(**values: str) -> str:
            return self.render(values)

        return Prompt(
            name=self.name,
            title=self.title,
            description=self.description,
            arguments=list(self.arguments),
            fn=render,
        )


def parse_template(name: str, text: str) -> PromptTemplate:
    header, separator, body = text.partition("\n---\n")
    if not separator:
        raise ValueError(f"prompt {name}: no '---' line between header and text")
    fields: dict[str, str] = {}
    arguments: list[PromptArgument] = []
    for line in header.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "argument":
            arg_name, arg_description, need = (part.strip() for part in value.split("|"))
            arguments.append(PromptArgument(name=arg_name, description=arg_description, required=need == "required"))
        elif key.strip():
            fields[key.strip()] = value.strip()
    return PromptTemplate(name, fields["title"], fields["description"], tuple(arguments), body.strip() + "\n")


def load_templates() -> list[PromptTemplate]:
    return [parse_template(entry.name.removesuffix(".md"), entry.read_text("utf-8")) for entry in _entries()]


def _entries() -> Iterator[Traversable]:
    packaged = resources.files("parse_mcp").joinpath("prompts")
    # An installed wheel carries them inside the package; a source checkout has them at the root.
    folder: Traversable = packaged if packaged.is_dir() else Path(__file__).resolve().parent.parent / "prompts"
    yield from sorted((e for e in folder.iterdir() if e.name.endswith(".md")), key=lambda e: e.name)

"""The shape of a sandbox API: its endpoints, their parameters, and the task that built it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from parse_mcp.sandbox.envelopes import JsonObject
from parse_mcp.sandbox.execution import Handler

_NO_DEFAULT = object()


@dataclass(frozen=True)
class ParamSpec:
    """One input parameter, with the keys Parse.bot's ParamSpec uses (section 5 of the API notes)."""

    type: str
    description: str
    required: bool = False
    default: object = _NO_DEFAULT
    choices: tuple[str, ...] | None = None

    @property
    def has_default(self) -> bool:
        return self.default is not _NO_DEFAULT

    def as_json(self) -> JsonObject:
        spec: JsonObject = {"type": self.type, "description": self.description, "required": self.required}
        if self.has_default:
            spec["default"] = self.default
        if self.choices is not None:
            spec["choices"] = list(self.choices)
        return spec


@dataclass(frozen=True)
class EndpointSpec:
    name: str
    method: str
    description: str
    handler: Handler
    return_schema: JsonObject
    params: Mapping[str, ParamSpec] = field(default_factory=dict)
    price: int = 1
    # The documented tag of a protected endpoint: the name of the endpoint that initiates the session.
    depends_on_session: str | None = None

    def param_types(self) -> dict[str, str]:
        return {name: spec.type for name, spec in self.params.items()}


@dataclass(frozen=True)
class ApiSpec:
    """A generated API and the completed dispatch task that produced it."""

    id: str
    slug: str
    name: str
    description: str
    site_path: str
    task_id: str
    task: str
    endpoints: tuple[EndpointSpec, ...]
    versions: tuple[int, ...] = (1, 2)

    def endpoint(self, name: str) -> EndpointSpec | None:
        return next((endpoint for endpoint in self.endpoints if endpoint.name == name), None)

"""An API as the emulated Parse.bot hosts it: its endpoints, their parameters, its releases, its build task."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from parse_mcp.sandbox.parsebot.envelopes import JsonObject
from parse_mcp.sandbox.parsebot.execution import Handler
from parse_mcp.sandbox.parsebot.sdk_model import SdkModel, class_name, derived_model

_NO_DEFAULT = object()


@dataclass(frozen=True)
class ScraperParam:
    """One input parameter, with the keys Parse.bot's ScraperParam uses (section 5 of the API notes)."""

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
class ScraperEndpoint:
    name: str
    method: str
    description: str
    handler: Handler
    return_schema: JsonObject
    params: Mapping[str, ScraperParam] = field(default_factory=dict)
    price: int = 1
    # The documented tag of a protected endpoint: the name of the endpoint that initiates the session.
    depends_on_session: str | None = None
    # The documented tag of a login endpoint: its answer carries session_id and encryption_key.
    initiates_session: bool = False
    # Parameters that make a successful call, offered as `test_inputs` and `sample_inputs`.
    sample_params: Mapping[str, object] = field(default_factory=dict)
    # What a revision naming this endpoint installs instead; None means a revision leaves it as it is.
    revised: ScraperEndpoint | None = None
    # What changed in the release that introduced this endpoint, shown by the updates listing.
    release_note: str | None = None

    def param_types(self) -> dict[str, str]:
        return {name: spec.type for name, spec in self.params.items()}


@dataclass(frozen=True)
class ScraperApi:
    """A generated API and the completed dispatch task that produced it."""

    id: str
    slug: str
    name: str
    description: str
    site_path: str
    task_id: str
    task: str
    endpoints: tuple[ScraperEndpoint, ...]
    versions: tuple[int, ...] = (1, 2)
    # The endpoints of earlier releases that differ from the latest; a pinned call or schema reads these.
    releases: Mapping[int, tuple[ScraperEndpoint, ...]] = field(default_factory=dict)
    # The marketplace listing this API is, or is a personal copy of.
    marketplace_id: str | None = None
    # The typed model `/sdk/schemas` shows for it; None derives one from the endpoints.
    sdk: SdkModel | None = None

    def endpoint(self, name: str) -> ScraperEndpoint | None:
        return next((endpoint for endpoint in self.endpoints if endpoint.name == name), None)

    @property
    def latest_version(self) -> int:
        return self.versions[-1]

    @property
    def is_authenticated(self) -> bool:
        return any(endpoint.initiates_session for endpoint in self.endpoints)

    def model(self) -> SdkModel:
        """The typed model of this API; resources nobody wrote by hand are one operation per endpoint."""
        written = self.sdk or SdkModel()
        if written.resources and written.example_call:
            return written
        derived = derived_model(((e.name, e.params) for e in self.endpoints), self._example())
        return replace(
            written,
            resources=written.resources or derived.resources,
            example_call=written.example_call or derived.example_call,
        )

    def _example(self) -> tuple[str, str] | None:
        """An endpoint a usage example can call as it is: public, and its sample covers its required params."""
        for endpoint in self.endpoints:
            public = not (endpoint.initiates_session or endpoint.depends_on_session)
            required = {name for name, spec in endpoint.params.items() if spec.required}
            if public and required <= endpoint.sample_params.keys():
                return endpoint.name, _keywords(endpoint.sample_params)
        return None

    @property
    def root_name(self) -> str:
        return (self.sdk.root_name if self.sdk is not None else None) or class_name(self.slug)

    def at_version(self, version: int | None) -> ScraperApi:
        """The API as release `version` served it; the latest when `version` is None or unchanged since."""
        if version is None or version not in self.releases:
            return self
        return replace(self, endpoints=self.releases[version])

    def next_release(self, endpoints: tuple[ScraperEndpoint, ...]) -> ScraperApi:
        """A new release with these endpoints; the current ones stay readable under the current version."""
        current = self.latest_version
        return replace(
            self,
            endpoints=endpoints,
            versions=(*self.versions, current + 1),
            releases={**self.releases, current: self.endpoints},
        )


def _keywords(params: Mapping[str, object]) -> str:
    """Keyword arguments as Python source; the sample values are JSON scalars and lists, whose repr is Python."""
    return ", ".join(f"{name}={value!r}" for name, value in params.items())

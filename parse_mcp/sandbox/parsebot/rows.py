"""How an API is shown: a row of `GET /sdk/schemas`, and the `generated_api` of a completed task."""

from __future__ import annotations

from parse_mcp.sandbox.parsebot.apis import ScraperApi, ScraperEndpoint
from parse_mcp.sandbox.parsebot.envelopes import JsonObject
from parse_mcp.sandbox.parsebot.sdk_model import usage_example


def absolute(base_url: str, path: str) -> str:
    """A site path as seen from the request; an address that is already absolute is kept as it is."""
    return base_url.rstrip("/") + path if path.startswith("/") else path


def schema_row(api: ScraperApi, base_url: str, version: int | None = None) -> JsonObject:
    """The API as one row of `GET /sdk/schemas`; `version` is set when the caller pinned one.

    Beside the endpoints it carries the typed model (`resources`, `enums`, `errors`, `root_name`) and a usage
    example, which Parse.bot's SDK needs to generate a typed client (`parse sync`)."""
    pinned = api.at_version(version)
    model = pinned.model()
    row: JsonObject = {
        "id": api.id,
        "slug": api.slug,
        "name": api.name,
        "description": api.description,
        "source_url": absolute(base_url, api.site_path),
        "pinned_version": None,
        "versions": list(api.versions),
        "endpoints": [_schema_endpoint(endpoint) for endpoint in pinned.endpoints],
        "resources": model.resources,
        "enums": model.enums,
        "errors": model.errors,
        "root_name": api.root_name,
        "sdk_usage_example": usage_example(api.slug, api.root_name, model.example_call),
    }
    if version is not None:
        row["version"] = version
    return row


def generated_api(api: ScraperApi, base_url: str) -> JsonObject:
    """The `generated_api` object of the task that produced the API, in the form the quickstart shows."""
    return {
        "marketplace_id": api.marketplace_id,
        "scraper_id": api.id,
        "name": api.name,
        "source_url": absolute(base_url, api.site_path),
        "execution_base_url": absolute(base_url, f"/scraper/{api.id}"),
        "endpoints": [_task_endpoint(endpoint) for endpoint in api.endpoints],
    }


def suggested_inputs(api: ScraperApi) -> list[JsonObject]:
    """Suggested parameters for each endpoint, as `POST /dispatch` returns them for a matched URL."""
    return [
        {"endpoint_name": endpoint.name, "method": endpoint.method, "params": dict(endpoint.sample_params)}
        for endpoint in api.endpoints
    ]


def _schema_endpoint(endpoint: ScraperEndpoint) -> JsonObject:
    row: JsonObject = {
        "name": endpoint.name,
        "method": endpoint.method,
        "description": endpoint.description,
        "input_params": _params(endpoint),
        "return_schema": endpoint.return_schema,
        "price": endpoint.price,
    }
    return row | _session_tags(endpoint)


def _task_endpoint(endpoint: ScraperEndpoint) -> JsonObject:
    row: JsonObject = {
        "endpoint_name": endpoint.name,
        "method": endpoint.method,
        "description": endpoint.description,
        "input_params": _params(endpoint),
        "return_schema": endpoint.return_schema,
    }
    return row | _session_tags(endpoint)


def _params(endpoint: ScraperEndpoint) -> JsonObject:
    return {name: spec.as_json() for name, spec in endpoint.params.items()}


def _session_tags(endpoint: ScraperEndpoint) -> JsonObject:
    """The documented tags of authenticated APIs; a public endpoint carries neither."""
    tags: JsonObject = {}
    if endpoint.initiates_session:
        tags["initiates_session"] = True
    if endpoint.depends_on_session:
        tags["depends_on_session"] = endpoint.depends_on_session
    return tags

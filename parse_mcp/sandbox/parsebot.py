"""The Parse.bot routes: schemas, dispatch tasks and endpoint execution, with the service's exact answers."""

from __future__ import annotations

import json
import logging
import re

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from parse_mcp.sandbox import catalog
from parse_mcp.sandbox.clock import Clock
from parse_mcp.sandbox.config import SandboxConfig
from parse_mcp.sandbox.envelopes import (
    EXPIRED_KEY_MESSAGE,
    INVALID_KEY_MESSAGE,
    MISSING_KEY_MESSAGE,
    SESSION_PAIR_MESSAGE,
    SESSION_REQUIRED_MESSAGE,
    SNAPSHOT_MESSAGE,
    EnvelopeError,
    JsonObject,
    detail_error,
    input_format_invalid,
    plain_error,
    scraper_bug,
    scraper_not_found,
    task_not_found,
    validation_error,
)
from parse_mcp.sandbox.execution import Call, RawReply
from parse_mcp.sandbox.limits import Account
from parse_mcp.sandbox.params import Params, decode_query
from parse_mcp.sandbox.specs import ApiSpec, EndpointSpec

PARSEBOT_KEY = "pmx_sandbox"
# A key the sandbox treats as expired, so the third documented 401 message can be reached on purpose.
EXPIRED_PARSEBOT_KEY = "pmx_sandbox_expired"

_POSITIVE_INTEGER = re.compile(r"[1-9][0-9]*")
_SESSION_FIELDS = (("x-session-id", "session_id"), ("x-encryption-key", "encryption_key"))
logger = logging.getLogger(__name__)


def authenticate(headers: Headers) -> None:
    """Accept only `X-API-Key: pmx_sandbox`; a Bearer token is not an API key, so it counts as missing."""
    key = headers.get("x-api-key")
    if not key:
        raise plain_error(401, MISSING_KEY_MESSAGE)
    if key == EXPIRED_PARSEBOT_KEY:
        raise plain_error(401, EXPIRED_KEY_MESSAGE)
    if key != PARSEBOT_KEY:
        raise plain_error(401, INVALID_KEY_MESSAGE)


def error_response(error: EnvelopeError, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(error.body, status_code=error.status_code, headers={**(headers or {}), **error.headers})


class ParseBotRoutes:
    """The Parse.bot API of one sandbox instance; it owns that instance's account budget."""

    def __init__(self, config: SandboxConfig, clock: Clock) -> None:
        self._clock = clock
        self._account = Account(config, clock)

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/sdk/schemas", self.list_schemas, methods=["GET"]),
            Route("/sdk/schemas/{scraper_id}", self.get_schema, methods=["GET"]),
            Route("/dispatch/tasks", self.list_tasks, methods=["GET"]),
            Route("/dispatch/tasks/{task_id}", self.get_task, methods=["GET"]),
            Route("/scraper/{scraper_id}/{endpoint_name}", self.execute, methods=["GET", "POST"]),
        ]

    async def list_schemas(self, request: Request) -> Response:
        try:
            authenticate(request.headers)
        except EnvelopeError as error:
            return error_response(error)
        base_url = _base_url(request)
        return JSONResponse({"apis": [catalog.schema_row(api, base_url) for api in catalog.CATALOGUE]})

    async def get_schema(self, request: Request) -> Response:
        scraper_id = request.path_params["scraper_id"]
        try:
            authenticate(request.headers)
            version = _query_int(request, "version")
            api = _find_api(scraper_id, version)
        except EnvelopeError as error:
            return error_response(error)
        return JSONResponse(catalog.schema_row(api, _base_url(request), version))

    async def list_tasks(self, request: Request) -> Response:
        try:
            authenticate(request.headers)
            limit = _query_int(request, "limit", minimum=1)
        except EnvelopeError as error:
            return error_response(error)
        status = request.query_params.get("status")
        tasks = [catalog.task_record(api, _base_url(request)) for api in catalog.CATALOGUE]
        tasks = [task for task in tasks if status is None or task["status"] == status]
        return JSONResponse({"tasks": tasks[:limit] if limit is not None else tasks})

    async def get_task(self, request: Request) -> Response:
        task_id = request.path_params["task_id"]
        try:
            authenticate(request.headers)
            api = catalog.find_task(task_id)
            if api is None:
                raise task_not_found(task_id)
        except EnvelopeError as error:
            return error_response(error)
        return JSONResponse(catalog.task_record(api, _base_url(request)))

    async def execute(self, request: Request) -> Response:
        """Run an endpoint. Once the key is known every answer, errors included, carries the budget headers."""
        try:
            authenticate(request.headers)
        except EnvelopeError as error:
            return error_response(error)
        try:
            self._account.admit()
            endpoint, params = await _resolve(request)
            self._account.credits.require(endpoint.price)
            outcome = _run(endpoint, Call(Params(params), _base_url(request), self._clock))
        except EnvelopeError as error:
            return error_response(error, self._budget_headers(charged=0))
        if isinstance(outcome, RawReply):
            return self._raw_reply(outcome, endpoint.price)
        self._account.credits.charge(endpoint.price)
        body = {"status": "success", "data": outcome}
        return JSONResponse(body, headers=self._budget_headers(charged=endpoint.price))

    def _raw_reply(self, reply: RawReply, price: int) -> Response:
        succeeded = 200 <= reply.status_code < 300
        if succeeded:
            self._account.credits.charge(price)
        headers = self._budget_headers(charged=price if succeeded else 0) if reply.with_account_headers else {}
        return Response(reply.body, status_code=reply.status_code, media_type=reply.media_type, headers=headers)

    def _budget_headers(self, charged: int) -> dict[str, str]:
        return {**self._account.rate_headers(), **self._account.credit_headers(charged)}


async def _resolve(request: Request) -> tuple[EndpointSpec, dict[str, object]]:
    """The endpoint to run and its parameters, or the error the service gives for a malformed call."""
    version = _snapshot_version(request.headers)
    api = _find_api(request.path_params["scraper_id"], version)
    endpoint = api.endpoint(request.path_params["endpoint_name"])
    if endpoint is None:
        raise detail_error(404)
    method = "GET" if request.method == "HEAD" else request.method
    if method != endpoint.method:
        error = detail_error(405)
        error.headers["Allow"] = endpoint.method
        raise error
    if method == "GET":
        supplied = decode_query(request.query_params.multi_items(), endpoint.param_types())
    else:
        supplied = await _json_body(request)
    has_session = _check_session_pair(request.headers, supplied)
    if endpoint.depends_on_session and not has_session:
        raise plain_error(400, SESSION_REQUIRED_MESSAGE)
    return endpoint, _with_defaults(endpoint, supplied)


def _run(endpoint: EndpointSpec, call: Call) -> JsonObject | RawReply:
    try:
        return endpoint.handler(call)
    except EnvelopeError:
        raise
    except Exception:
        # An unexpected crash inside a scraper is exactly what Parse reports as scraper_bug.
        logger.exception("sandbox scraper %s crashed", endpoint.name)
        raise scraper_bug() from None


def _find_api(scraper_id: str, version: int | None) -> ApiSpec:
    api = catalog.find_api(scraper_id)
    if api is None or (version is not None and version not in api.versions):
        raise scraper_not_found(scraper_id)
    return api


def _snapshot_version(headers: Headers) -> int | None:
    value = headers.get("api-snapshot-version")
    if value is None:
        return None
    if not _POSITIVE_INTEGER.fullmatch(value.strip()):
        raise plain_error(400, SNAPSHOT_MESSAGE)
    return int(value)


async def _json_body(request: Request) -> dict[str, object]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        value: object = json.loads(raw)
    except ValueError:
        raise validation_error(["body"], "JSON decode error", "json_invalid") from None
    if not isinstance(value, dict):
        raise validation_error(["body"], "Input should be a valid dictionary", "dict_type")
    return value


def _check_session_pair(headers: Headers, supplied: dict[str, object]) -> bool:
    """Session credentials come as a pair, in headers or in the body; the body copies are not scraper input.

    Returns whether a whole pair was sent."""
    sent = []
    for header, field in _SESSION_FIELDS:
        in_body = supplied.pop(field, None) is not None
        sent.append(in_body or bool(headers.get(header)))
    if any(sent) and not all(sent):
        raise plain_error(400, SESSION_PAIR_MESSAGE)
    return all(sent)


def _with_defaults(endpoint: EndpointSpec, supplied: dict[str, object]) -> dict[str, object]:
    values = {name: value for name, value in supplied.items() if value is not None}
    for name, spec in endpoint.params.items():
        if name in values:
            continue
        if spec.required:
            raise input_format_invalid(f"{name} is required")
        if spec.has_default:
            values[name] = spec.default
    return values


def _query_int(request: Request, name: str, minimum: int | None = None) -> int | None:
    """A FastAPI-validated integer query parameter: 422 with a `detail` list when it does not parse."""
    value = request.query_params.get(name)
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        msg = "Input should be a valid integer, unable to parse string as an integer"
        raise validation_error(["query", name], msg, "int_parsing") from None
    if minimum is not None and number < minimum:
        msg = f"Input should be greater than or equal to {minimum}"
        raise validation_error(["query", name], msg, "greater_than_equal")
    return number


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")

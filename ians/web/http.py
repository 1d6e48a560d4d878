"""Reading request bodies and rendering errors: the API's edge with the outside."""

from __future__ import annotations

import json
import logging
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, TypeAdapter, ValidationError

from ians.errors import BadRequest, IansError, InvalidInput, PayloadTooLarge
from ians.wording import UNSEEN, located

log = logging.getLogger(__name__)

T = TypeVar("T")
MAX_BODY = 1024 * 1024

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    422: "invalid",
}


def invalid_input(exc: ValidationError, body: bytes | str) -> IansError:
    """A pydantic error as the API's error: 400 for a body that is no JSON object, else a
    422 listing every invalid field, in plain words (`ians.wording`), at its path in the
    body (`to[1]`, `content.location.lat`)."""
    for err in exc.errors(include_url=False):
        if err["type"] == "json_invalid":
            return BadRequest(f"malformed JSON: {err.get('ctx', {}).get('error', err['msg'])}")
        if not err["loc"] and err["type"] not in ("union_tag_invalid", "union_tag_not_found"):
            return BadRequest("the body must be a JSON object")
    try:
        data = json.loads(body)  # to name fields by the body's own keys
    except ValueError:  # JSON that pydantic reads and Python's json not: paths from pydantic
        data = UNSEEN
    return InvalidInput.listing([(e.field, e.message) for e in located(exc, data)])


async def read_body(
    request: web.Request, adapter: TypeAdapter[T], *, empty_ok: bool = False
) -> T:
    """The request body validated by `adapter`. Raises BadRequest, InvalidInput, PayloadTooLarge."""
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        raise PayloadTooLarge(f"the body is over {MAX_BODY} bytes") from exc
    if empty_ok and not body.strip():
        body = b"{}"
    try:
        return adapter.validate_json(body)
    except ValidationError as exc:
        raise invalid_input(exc, body) from None


def render(model: BaseModel, status: int = 200) -> web.Response:
    return web.Response(
        # bytes, not str: a str body goes through aiohttp's payload registry (~10 us more)
        body=model.__pydantic_serializer__.to_json(model, by_alias=True),
        status=status,
        content_type="application/json",
    )


def error_response(status: int, code: str, message: str, details: list[Any]) -> web.Response:
    body = {"error": {"code": code, "message": message, "details": details}}
    return web.json_response(body, status=status)


@web.middleware
async def errors_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Render every error as {"error": {code, message, details}}; never leak a traceback."""
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except IansError as exc:
        return error_response(exc.status, exc.code, exc.message, exc.details)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _HTTP_CODES.get(exc.status, "http_error")
        return error_response(exc.status, code, exc.reason, [])
    except Exception:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return error_response(500, "internal", "internal error (logged on the server)", [])

"""Reading request bodies and rendering errors: the API's edge with the outside."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, TypeAdapter, ValidationError

from ians.errors import BadRequest, IansError, InvalidInput, PayloadTooLarge

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


def field_path(loc: Sequence[str | int]) -> str:
    """`('content', 'substances', 0, 'cas')` → `content.substances[0].cas`."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def invalid_input(exc: ValidationError, *, tagged: bool = False) -> IansError:
    """A pydantic error as the API's error: 400 for a body that is no JSON object, else 422.

    `tagged`: the model is a discriminated union, whose tag pydantic puts first in `loc`.
    """
    details = []
    for err in exc.errors(include_url=False):
        loc = list(err["loc"])
        kind = err["type"]
        if kind == "json_invalid":
            return BadRequest(f"malformed JSON: {err['ctx'].get('error', err['msg'])}")
        if not loc and kind not in ("union_tag_invalid", "union_tag_not_found"):
            return BadRequest("the body must be a JSON object")
        if kind in ("union_tag_invalid", "union_tag_not_found"):
            loc = ["type"]
        elif tagged:
            loc = loc[1:]
        message = str(err["msg"]).removeprefix("Value error, ")
        details.append({"field": field_path(loc), "message": message})
    first = details[0]
    more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
    return InvalidInput(f"{first['field']}: {first['message']}{more}", details)


async def read_body(
    request: web.Request, adapter: TypeAdapter[T], *, tagged: bool = False, empty_ok: bool = False
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
        raise invalid_input(exc, tagged=tagged) from None


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

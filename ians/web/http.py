"""Reading request bodies and rendering errors: the API's edge with the outside."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Sequence
from typing import Any, TypeVar

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError
from pydantic import BaseModel, TypeAdapter, ValidationError

from ians.errors import (
    BadRequest,
    BrokenBody,
    IansError,
    InvalidInput,
    PayloadTooLarge,
    RequestTimeout,
    UnsupportedMediaType,
)
from ians.web.keys import body_timeout_key
from ians.web.render import problem_page
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
    415: "unsupported_media_type",
    422: "invalid",
}
_WHOLE_NUMBER = re.compile(r"[0-9]{1,9}")  # ASCII digits only: int() also takes '²' and '١'


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


class QueryParams:
    """The query parameters of a request, read one by one; `check` raises every mistake at once.

    A value that breaks a rule reads as its default, so the handler can go on to the next.
    """

    def __init__(self, request: web.Request) -> None:
        self._query = request.query
        self._problems: list[tuple[str, str]] = []

    def text(self, name: str) -> str | None:
        return self._query.get(name)

    def whole(self, name: str, default: int, low: int, high: int) -> int:
        """A whole number from `low` to `high` (ASCII digits)."""
        raw = self._query.get(name)
        if raw is None:
            return default
        if not _WHOLE_NUMBER.fullmatch(raw) or not low <= int(raw) <= high:
            message = f"{raw!r} is not a whole number from {low} to {high}"
            return self.invalid(name, message, default)
        return int(raw)

    def choice(self, name: str, choices: Sequence[str], default: str | None = None) -> str | None:
        raw = self._query.get(name)
        if raw is None or raw in choices:
            return default if raw is None else raw
        return self.invalid(name, f"{raw!r} is not one of {', '.join(choices)}", default)

    def invalid(self, name: str, message: str, default: T) -> T:
        self._problems.append((name, message))
        return default

    def check(self) -> None:
        """Raises InvalidInput naming every bad parameter read so far."""
        if self._problems:
            raise InvalidInput.listing(self._problems)


def check_media_type(request: web.Request, accepted: Sequence[str]) -> None:
    """Refuse a body of a media type the endpoint does not take. Raises UnsupportedMediaType."""
    if not request.body_exists or request.content_type in accepted:
        return
    given = request.headers.get("Content-Type", "no Content-Type")
    raise UnsupportedMediaType(
        f"the body is {given}: send it as {' or '.join(accepted)}",
        [{"field": "Content-Type", "message": f"use {' or '.join(accepted)}"}],
    )


async def read_body(request: web.Request, adapter: TypeAdapter[T], *, empty_ok: bool = False) -> T:
    """The request body validated by `adapter`.

    Raises BadRequest (also for a body that does not decode as its Content-Encoding says),
    InvalidInput, PayloadTooLarge, RequestTimeout (the body did not all arrive in time).
    """
    body = await read_bytes(request)
    if empty_ok and not body.strip():
        body = b"{}"
    try:
        return adapter.validate_json(body)
    except ValidationError as exc:
        raise invalid_input(exc, body) from None


async def read_bytes(request: web.Request) -> bytes:
    """The request body as it came, whatever its media type.

    Raises BrokenBody (it does not decode as its Content-Encoding says), PayloadTooLarge,
    RequestTimeout (it did not all arrive in time).
    """
    timeout = request.app[body_timeout_key]
    try:
        if request.content.is_eof():  # all of it has come (a small body comes with its
            return await request.read()  # headers): nothing to wait for, nothing to time
        async with asyncio.timeout(timeout):
            return await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        raise PayloadTooLarge(f"the body is over {MAX_BODY} bytes") from exc
    except TimeoutError:
        raise RequestTimeout(f"the body did not arrive within {timeout:g} s") from None
    except (HttpProcessingError, RequestPayloadError) as exc:
        raise BrokenBody(_broken(request, exc)) from None


def _broken(request: web.Request, exc: Exception) -> str:
    encoding = request.headers.get("Content-Encoding")
    if encoding:
        return f"the body is not valid {encoding}: send it as its Content-Encoding says"
    cause = exc.__cause__ if isinstance(exc.__cause__, HttpProcessingError) else exc
    detail = cause.message if isinstance(cause, HttpProcessingError) else str(cause)
    return f"the body is broken: {detail.strip()}"


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


def _for_people(request: web.Request) -> bool:
    return not request.path.startswith("/api/") and "text/html" in request.headers.get("Accept", "")


def page_for_status(request: web.Request, status: int) -> web.Response:
    """An HTTP error on a page's path (no such page, a method it does not take), as a page."""
    words = {404: "there is no such page", 405: f"{request.method} is not used on this page"}
    error = IansError(words.get(status, "this request cannot be answered"))
    error.status = status if status in (404, 405) else 400
    return problem_page(request, error)


@web.middleware
async def errors_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Render every error as {"error": {code, message, details}}; never leak a traceback."""
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except IansError as exc:
        response = error_response(exc.status, exc.code, exc.message, exc.details)
        if isinstance(exc, (RequestTimeout, BrokenBody)):
            response.force_close()  # what is left of the body is not worth reading
        return response
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        if _for_people(request):  # a browser on a page's path: a page, not JSON
            return page_for_status(request, exc.status)
        code = _HTTP_CODES.get(exc.status, "http_error")
        message = exc.reason
        allow = exc.headers.get("Allow")
        if exc.status == 405 and allow is not None:
            message = f"{request.method} is not allowed on {request.path}: use {allow}"
        elif exc.status == 404:
            message = f"no endpoint {request.path} (see /api/openapi.json)"
        response = error_response(exc.status, code, message, [])
        if allow is not None:  # a 405 says which methods the path takes
            response.headers["Allow"] = allow
        return response
    except Exception:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return error_response(500, "internal", "internal error (logged on the server)", [])

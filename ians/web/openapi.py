"""/api/openapi.json, generated from ENDPOINTS and the pydantic models they name."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import models_json_schema

import ians
from ians.reports.render import media_type
from ians.web.routes import ENDPOINTS, Endpoint
from ians.web.views import ErrorBody, WebhookNotice

_REF = "#/components/schemas/{model}"
_ERRORS = {
    "400": "Malformed body",
    "401": "No or bad token",
    "403": "Not allowed for this caller",
    "404": "Unknown id",
    "408": "The body did not all arrive in time; the connection is closed",
    "409": "State conflict",
    "413": "Body over 1 MiB",
    "415": "The body is not of a media type this endpoint takes",
    "422": "Invalid field or query parameter; details name each one",
    "503": "The store is closed (its writer process ended): the server must be restarted",
}


# bodies that are not JSON: what they are, in place of the JSON body's schema
_TEXT_BODIES = {
    "application/cap+xml": {
        "type": "string",
        "description": "An OASIS CAP 1.2 alert (XML): Alert for an early warning, Update for"
        " information about one",
    }
}


# what IANS POSTs to a PoC's registered webhook, signed as Standard Webhooks
_WEBHOOK = {
    "post": {
        "summary": "A notice to a PoC's webhook: a message, a reminder, a consultation",
        "description": "Headers webhook-id (the notice's id, the same on every retry),"
        " webhook-timestamp (Unix seconds of the attempt) and webhook-signature (v1, and"
        " the base64 of HMAC-SHA256 over id.timestamp.body with the PoC's secret).",
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": _REF.format(model="WebhookNotice")}},
                "application/cap+xml": {
                    "schema": {
                        "type": "string",
                        "description": "The message as a CAP 1.2 alert (webhook_format: cap);"
                        " the acknowledgement link in the IANS-Ack-URL header",
                    }
                },
            },
        },
        "responses": {
            "2XX": {"description": "Delivered"},
            "410": {"description": "Gone: the PoC's webhook is switched off"},
            "429": {"description": "Tried again, no sooner than its Retry-After"},
            "5XX": {"description": "Tried again, no sooner than its Retry-After"},
        },
    }
}


def openapi() -> dict[str, Any]:
    """The OpenAPI 3.1 description of every endpoint."""
    models: set[type[BaseModel]] = {e.response for e in ENDPOINTS if e.response is not None}
    models |= {ErrorBody, WebhookNotice}
    _, defs = models_json_schema([(m, "serialization") for m in models], ref_template=_REF)
    schemas: dict[str, Any] = dict(defs.get("$defs", {}))
    paths: dict[str, Any] = {}
    for e in ENDPOINTS:
        op: dict[str, Any] = {
            "summary": e.summary,
            "operationId": e.handler.__name__,
            "description": f"Who may call it: {e.who}.",
            "responses": {
                str(e.status): {
                    "description": "OK",
                    "content": {
                        **(_json(_ref(e.response.__name__)) if e.response is not None else {}),
                        **{_bare(media_type(f)): {"schema": {"type": "string"}} for f in e.formats},
                        **{media: {"schema": {"type": "string"}} for media in e.produces},
                    },
                },
                **{
                    code: {"description": text, "content": _json(_ref("ErrorBody"))}
                    for code, text in _ERRORS.items()
                    if _applies(code, e)
                },
            },
        }
        if e.who != "anyone":
            op["security"] = [{"bearer": []}]
        if e.body is not None:
            body_schema = TypeAdapter(e.body).json_schema(ref_template=_REF, mode="validation")
            schemas.update(body_schema.pop("$defs", {}))
            name = e.body_name
            schemas[name] = body_schema
            op["requestBody"] = {
                "required": e.method == "POST" and name != "AckBody",
                "content": {
                    media: {"schema": _TEXT_BODIES.get(media, _ref(name))} for media in e.accepts
                },
            }
        params = [
            {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
            for p in _path_params(e.path)
        ]
        params += [
            {
                "name": q,
                "in": "query",
                "required": False,
                "description": param.description,
                "schema": param.schema,
            }
            for q, param in e.query.items()
        ]
        if params:
            op["parameters"] = params
        paths.setdefault(e.path, {})[e.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "IANS",
            "version": ians.__version__,
            "description": "Industrial Accident Notification System simulator",
        },
        "paths": paths,
        "webhooks": {"notice": _WEBHOOK},
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF.format(model=name)}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _path_params(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


def _applies(code: str, e: Endpoint) -> bool:
    """Whether endpoint `e` can answer `code` (the route's own list, else what it implies)."""
    if int(code) in e.errors:
        return True
    if code in ("401", "403"):
        return e.who != "anyone"
    if code in ("400", "408", "413", "415"):
        return e.body is not None
    if code == "404":
        return "{" in e.path
    if code == "422":
        return e.body is not None or bool(e.query)
    if code == "503":
        return e.method == "POST"
    return False


def _bare(media: str) -> str:
    """`text/csv; charset=utf-8` → `text/csv`: a media type as an OpenAPI content key."""
    return media.split(";")[0]

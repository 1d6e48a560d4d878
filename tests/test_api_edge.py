"""The API's edge against odd and hostile requests: query parameters, encodings, media
types, methods, tokens; and what every answer looks like (UTC times, integer counts, the
OpenAPI description of every status). Real app, real loopback server."""

from __future__ import annotations

import asyncio
import gzip
import json
import zlib
from typing import Any

import pytest

from tests.conftest import JSON, Api, early_warning
from tests.test_exercises import DRILL_HUN_ROU

CONSULTATION = """\
name: Readiness
kind: consultation
audience: {roles: [notification], countries: [HUN, ROU]}
deadline: 2d
questions:
  - {id: q1, text: Ready?, type: yes_no}
"""


async def send(api: Api) -> dict[str, Any]:
    body: dict[str, Any] = await api.json("POST", "/api/messages", json=early_warning(), status=201)
    return body


@pytest.mark.parametrize(
    "limit", ["²", "١٢", "٣", "1e3", "-1", "0", "1001", " 5", "5 ", "", "99999999999999999999"]
)
async def test_a_limit_that_is_no_ascii_whole_number_in_range_is_a_422(
    api: Api, limit: str
) -> None:
    for path, as_ in [
        ("/api/inbox", "hun-1"),
        ("/api/messages", "admin"),
        ("/api/exercises", "admin"),
    ]:
        body = await api.json("GET", path, as_, status=422, params={"limit": limit})
        assert body["error"]["details"] == [
            {"field": "limit", "message": f"{limit!r} is not a whole number from 1 to 1000"}
        ]


async def test_every_bad_query_parameter_is_named_at_once(api: Api) -> None:
    body = await api.json(
        "GET", "/api/messages", status=422, params={"limit": "x", "mode": "drill", "country": "QQQ"}
    )
    assert [d["field"] for d in body["error"]["details"]] == ["limit", "mode", "country"]
    assert body["error"]["message"].endswith("(and 2 more)")


@pytest.mark.parametrize("fmt", ["docx", "JSON", "json ", "%", "é"])
async def test_a_format_not_offered_is_a_422_for_reports_and_results(api: Api, fmt: str) -> None:
    for path in ["/api/exercises/ex-x/report", "/api/consultations/cn-x/results"]:
        body = await api.json("GET", path, status=422, params={"format": fmt})
        assert body["error"]["details"][0]["field"] == "format"
        assert "json, csv, md, html" in body["error"]["message"]


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_a_body_that_is_not_what_its_content_encoding_says_is_a_400(
    api: Api, encoding: str
) -> None:
    response = await api.call(
        "POST",
        "/api/messages",
        data=json.dumps(early_warning()).encode(),
        headers={**JSON, "Content-Encoding": encoding},
    )
    body = await response.json()
    assert response.status == 400, body
    assert body["error"]["message"].startswith(f"the body is not valid {encoding}")
    assert (await api.json("GET", "/api/health", None)) == {"status": "ok"}


@pytest.mark.parametrize("compress", [gzip.compress, zlib.compress])
async def test_a_body_compressed_as_its_content_encoding_says_is_taken(
    api: Api, compress: Any
) -> None:
    encoding = "gzip" if compress is gzip.compress else "deflate"
    response = await api.call(
        "POST",
        "/api/messages",
        data=compress(json.dumps(early_warning()).encode()),
        headers={**JSON, "Content-Encoding": encoding},
    )
    assert response.status == 201, await response.text()


async def test_a_compressed_body_over_1_mib_once_decoded_is_a_413(api: Api) -> None:
    bomb = gzip.compress(b" " * (4 * 1024 * 1024))  # 4 KiB on the wire
    response = await api.call(
        "POST", "/api/messages", data=bomb, headers={**JSON, "Content-Encoding": "gzip"}
    )
    assert response.status == 413


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "application/xml", None],
)
async def test_a_body_that_is_not_json_is_a_415_naming_what_is_taken(
    api: Api, content_type: str | None
) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}
    response = await api.call(
        "POST", "/api/messages", data=json.dumps(early_warning()).encode(), headers=headers
    )
    body = await response.json()
    assert response.status == 415, body
    assert body["error"]["code"] == "unsupported_media_type"
    assert "application/json" in body["error"]["message"]
    assert (await api.json("GET", "/api/messages"))["messages"] == []


async def test_json_with_a_charset_is_taken_and_an_ack_needs_no_body_nor_type(api: Api) -> None:
    response = await api.call(
        "POST",
        "/api/messages",
        data=json.dumps(early_warning()).encode(),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status == 201
    message = await response.json()
    ack = await api.call("POST", f"/api/messages/{message['id']}/ack", "hun-1")
    assert ack.status == 200, await ack.text()


async def test_a_405_says_which_methods_the_path_takes(api: Api) -> None:
    response = await api.call("DELETE", "/api/messages")
    body = await response.json()
    assert response.status == 405
    assert set(response.headers["Allow"].split(",")) == {"GET", "POST"}
    assert body["error"]["message"] == "DELETE is not allowed on /api/messages: use GET,POST"


async def raw_status(api: Api, request: bytes) -> bytes:
    """The status line the server answers a request sent byte for byte."""
    url = api.client.make_url("/")
    reader, writer = await asyncio.open_connection(url.host, url.port)
    try:
        writer.write(request)
        return await asyncio.wait_for(reader.readline(), 10)
    finally:
        writer.close()


@pytest.mark.parametrize("token", [b"\xff\xfe", b"\xc3\xbc\xed\xa0\x80"])
async def test_a_token_of_bytes_no_token_has_is_a_401(api: Api, token: bytes) -> None:
    request = b"GET /api/pocs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token
    assert await raw_status(api, request + b"\r\nConnection: close\r\n\r\n") == (
        b"HTTP/1.1 401 Unauthorized\r\n"
    )


async def test_content_times_come_back_in_utc(api: Api) -> None:
    message = await send(api)  # occurred_at 08:45+01:00
    assert message["content"]["occurred_at"] == "2026-11-27T07:45:00Z"
    for body in [
        await api.json("GET", f"/api/messages/{message['id']}"),
        (await api.json("GET", "/api/messages"))["messages"][0],
        (await api.json("GET", "/api/inbox", "hun-1"))["messages"][0]["message"],
    ]:
        assert body["content"]["occurred_at"] == "2026-11-27T07:45:00Z"
        assert body["sent_at"].endswith("Z")


async def test_a_running_consultations_counts_are_integers(api: Api) -> None:
    created = await api.json("POST", "/api/exercises", json={"scenario": CONSULTATION}, status=201)
    body = await api.json("GET", f"/api/consultations/{created['id']}")
    assert body["progress"] == {"invited": 4, "responded": 0, "response_rate": 0.0}
    assert isinstance(body["progress"]["invited"], int)
    assert json.dumps(body["progress"]).startswith('{"invited": 4,')


async def test_openapi_documents_the_statuses_and_constrains_the_parameters(api: Api) -> None:
    spec = await api.json("GET", "/api/openapi.json", None)
    paths = spec["paths"]
    for path in [
        "/api/exercises/{exercise_id}/report",
        "/api/consultations/{consultation_id}/results",
    ]:
        op = paths[path]["get"]
        assert "422" in op["responses"]
        (fmt,) = [p for p in op["parameters"] if p["name"] == "format"]
        assert fmt["schema"]["enum"] == ["json", "csv", "md", "html", "pdf"]
        media = [m.split(";")[0] for m in op["responses"]["200"]["content"]]
        assert media == [
            "application/json",
            "text/csv",
            "text/markdown",
            "text/html",
            "application/pdf",
        ]
    for path in ["/api/inbox", "/api/messages", "/api/exercises", "/api/consultations"]:
        (limit,) = [p for p in paths[path]["get"]["parameters"] if p["name"] == "limit"]
        assert limit["schema"] == {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}
    for path, method in [
        ("/api/messages", "post"),
        ("/api/messages/{message_id}/ack", "post"),
        ("/api/exercises", "post"),
        ("/api/consultations/{consultation_id}/responses", "post"),
    ]:
        responses = paths[path][method]["responses"]
        assert {"400", "408", "413", "415", "422", "503"} <= set(responses), path
        accepted = ["application/json"] + ["application/cap+xml"] * (path == "/api/messages")
        assert list(paths[path][method]["requestBody"]["content"]) == accepted
    assert "409" in paths["/api/exercises/{exercise_id}/stop"]["post"]["responses"]
    assert "409" in paths["/api/messages/{message_id}/ack"]["post"]["responses"]
    assert "409" not in paths["/api/messages/{message_id}"]["get"]["responses"]


async def test_the_answers_given_here_are_documented(api: Api) -> None:
    """Each status this file provokes is in the description of the endpoint that gave it."""
    spec = await api.json("GET", "/api/openapi.json", None)
    message = await send(api)
    given = [
        ("get", "/api/inbox", "hun-1", {"params": {"limit": "²"}}, 422),
        ("get", "/api/exercises/{exercise_id}/report", "admin", {"params": {"format": "x"}}, 422),
        (
            "post",
            "/api/messages",
            "admin",
            {"data": b"{}", "headers": {"Content-Type": "text/plain"}},
            415,
        ),
        ("post", "/api/messages", "admin", {"data": b"{", "headers": JSON}, 400),
        ("get", "/api/messages/{message_id}/events", "hun-1", {}, 403),
        ("get", "/api/messages", "admin", {"params": {"before": "ew-none"}}, 422),
    ]
    for method, path, as_, kwargs, status in given:
        url = path.replace("{exercise_id}", "ex-x").replace("{message_id}", message["id"])
        response = await api.call(method.upper(), url, as_, **kwargs)
        assert response.status == status, (path, await response.text())
        assert str(status) in spec["paths"][path][method]["responses"], (path, status)


async def test_a_start_given_with_an_offset_comes_back_in_utc(api: Api) -> None:
    body = {"scenario": DRILL_HUN_ROU, "clock": "virtual", "start": "2026-11-27T17:00:00+01:00"}
    created = await api.json("POST", "/api/exercises", json=body, status=201)
    assert created["started_at"] == "2026-11-27T16:00:00Z"
    assert created["ended_at"].endswith("Z")
    listed = await api.json("GET", f"/api/messages?exercise={created['id']}")
    assert listed["messages"] and all(m["sent_at"].endswith("Z") for m in listed["messages"])
    occurred = listed["messages"][-1]["content"]["occurred_at"]
    assert occurred == "2026-11-27T15:40:00Z"  # start-20m

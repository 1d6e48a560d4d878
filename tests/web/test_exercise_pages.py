"""The secretariat's exercise and consultation pages through the real app on a loopback
server: the lists with their filters, a start from a bundled scenario or an uploaded file
(errors beside their fields, the scenario's problems with their lines), the live stream,
stop after a confirmation, the report inline and in every format, the consultation's
response rate and results; CSRF required, a PoC refused."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp import FormData

from ians.clock import ManualClock
from ians.reports.render import FORMATS
from ians.web.keys import tracker_key
from tests.conftest import ADMIN_TOKEN, Api, AppFactory, early_warning
from tests.web.test_sessions import csrf_of, sign_in

SCENARIOS = Path(__file__).parent / "scenarios"  # bundled ones that fit the test registry
DRILL = "pancevo-drill.yaml"
CONSULTATION = "consultation-2026.yaml"


@pytest.fixture
async def api(make_api: AppFactory) -> Api:
    return await make_api(scenarios=SCENARIOS)


async def admin(api: Api, path: str = "/exercises/start") -> str:
    assert (await sign_in(api, ADMIN_TOKEN)).status == 303
    return await csrf_of(api, path)


def start_form(csrf: str, **fields: str | list[str]) -> FormData:
    form = FormData()
    form.add_field("csrf", csrf)
    for name, value in {"clock": "real", "speed": "60", "seed": "0", **fields}.items():
        for one in [value] if isinstance(value, str) else value:
            form.add_field(name, one)
    return form


async def start(api: Api, form: FormData) -> Any:
    return await api.client.post("/exercises/start", data=form, allow_redirects=False)


async def started(api: Api, csrf: str, **fields: str | list[str]) -> str:
    response = await start(api, start_form(csrf, **fields))
    assert response.status == 303, await response.text()
    return str(response.headers["Location"]).rsplit("/", 1)[-1].split("?")[0]


async def test_the_start_form_lists_the_bundled_scenarios_of_its_kind(api: Api) -> None:
    await admin(api)
    text = await (await api.client.get("/exercises/start")).text()
    assert f'value="{DRILL}"' in text and 'value="connectivity-test.yaml"' in text
    assert CONSULTATION not in text
    text = await (await api.client.get("/consultations/start")).text()
    assert f'value="{CONSULTATION}"' in text and DRILL not in text


async def test_a_drill_started_from_a_bundled_scenario_runs_as_the_apis_would(
    api: Api, clock: ManualClock
) -> None:
    csrf = await admin(api)
    exercise_id = await started(api, csrf, bundled=DRILL, simulate=["ROU"])
    view = await api.json("GET", f"/api/exercises/{exercise_id}")
    assert view["state"] == "running" and view["speed"] == 60 and view["simulate"] == ["ROU"]
    await api.app[tracker_key].timers.run_due()  # ew1 at 0m
    text = await (await api.client.get(f"/exercises/{exercise_id}")).text()
    assert 'data-progress="injects">1 of' in text
    assert re.search(r'id="c-[^"]+-HUN" sse-swap', text)
    assert f'sse-connect="/exercises/{exercise_id}/live"' in text
    assert "Read the report so far" in text
    listed = await (await api.client.get("/exercises?state=running&kind=drill")).text()
    assert f'id="x-{exercise_id}"' in listed
    none = await (await api.client.get("/exercises?state=completed")).text()
    assert f'id="x-{exercise_id}"' not in none
    bad = await api.client.get("/exercises?state=sleeping")
    assert bad.status == 422 and "sleeping" in await bad.text()


async def test_an_uploaded_file_is_started_and_its_problems_shown_with_their_lines(
    api: Api,
) -> None:
    csrf = await admin(api)
    form = start_form(csrf)
    form.add_field(
        "file", b"kind: drill\nname: x\nmode: exercise\ninjects: nope\n", filename="x.yaml"
    )
    response = await start(api, form)
    text = await response.text()
    assert response.status == 422
    problems = re.search(r'<ul id="problems">(.*?)</ul>', text, re.S)
    assert problems is not None and "line 4" in problems[1] and "injects" in problems[1]
    good = (SCENARIOS / "connectivity-test.yaml").read_bytes()
    form = start_form(csrf, clock="virtual")
    form.add_field("file", good, filename="test.yaml")
    response = await start(api, form)
    assert response.status == 303
    exercise_id = response.headers["Location"].rsplit("/", 1)[-1]
    assert (await api.json("GET", f"/api/exercises/{exercise_id}"))["state"] == "completed"
    page = await (await api.client.get(f"/exercises/{exercise_id}")).text()
    assert '<section class="report"' in page and "sse-connect" not in page


async def test_the_forms_own_fields_get_their_errors(api: Api) -> None:
    csrf = await admin(api)
    response = await start(api, start_form(csrf, bundled=DRILL, speed="fast", simulate=["XXX"]))
    text = await response.text()
    assert response.status == 422
    assert re.search(r'id="speed-error">[^<]*number', text)
    assert 'value="fast"' in text
    response = await start(api, start_form(csrf))
    text = await response.text()
    assert response.status == 422 and 'id="bundled-error">choose a bundled scenario' in text
    response = await start(api, start_form(csrf, bundled="../contacts.yaml"))
    assert response.status == 422 and "no bundled scenario" in await response.text()
    assert (await api.json("GET", "/api/exercises"))["exercises"] == []


async def test_a_stop_is_confirmed_first_and_the_report_then_shown_and_downloaded(
    api: Api, clock: ManualClock
) -> None:
    csrf = await admin(api)
    exercise_id = await started(api, csrf, bundled=DRILL)
    await api.app[tracker_key].timers.run_due()
    confirm = await api.client.get(f"/exercises/{exercise_id}/stop")
    text = await confirm.text()
    assert confirm.status == 200 and "Yes, stop it" in text
    assert (await api.json("GET", f"/api/exercises/{exercise_id}"))["state"] == "running"
    forged = await api.client.post(f"/exercises/{exercise_id}/stop", data={"csrf": "x"})
    assert forged.status == 403
    stop = await api.client.post(
        f"/exercises/{exercise_id}/stop", data={"csrf": csrf}, allow_redirects=False
    )
    assert stop.status == 303 and stop.headers["Location"] == f"/exercises/{exercise_id}?stopped=1"
    assert (await api.json("GET", f"/api/exercises/{exercise_id}"))["state"] == "stopped"
    page = await (await api.client.get(stop.headers["Location"])).text()
    assert "The exercise was stopped" in page and '<section class="report"' in page
    assert "<table>" in page.split('<section class="report"')[1]
    for fmt in FORMATS:
        answer = await api.client.get(f"/exercises/{exercise_id}/report.{fmt}")
        assert answer.status == 200, fmt
        api_answer = await api.call("GET", f"/api/exercises/{exercise_id}/report?format={fmt}")
        assert answer.content_type == api_answer.content_type
        assert "attachment" in answer.headers["Content-Disposition"]
    again = await api.client.post(f"/exercises/{exercise_id}/stop", data={"csrf": csrf})
    assert again.status == 409


async def test_the_live_stream_carries_the_exercises_changes_only(
    api: Api, clock: ManualClock
) -> None:
    csrf = await admin(api)
    exercise_id = await started(api, csrf, bundled=DRILL)
    tracker = api.app[tracker_key]
    other = await api.json("POST", "/api/messages", status=201, json=early_warning())
    stream = await api.client.get(f"/exercises/{exercise_id}/live")
    assert stream.status == 200 and stream.content_type == "text/event-stream"
    async with asyncio.timeout(5):
        assert (await stream.content.readline()).startswith(b"retry:")  # it is watching
        await api.json("POST", f"/api/messages/{other['id']}/ack", as_="hun-1")  # not ours
        await tracker.timers.run_due()  # ew1 goes out
        seen = b""
        while b"event: progress" not in seen:
            seen += await stream.content.readany()
    assert b"event: message" in seen and b'data-progress="injects">1 of' in seen
    assert other["id"].encode() not in seen
    stream.close()


async def test_a_consultation_started_shows_its_live_response_rate_and_results(
    api: Api, clock: ManualClock
) -> None:
    csrf = await admin(api, "/consultations/start")
    form = start_form(csrf, bundled=CONSULTATION, speed="1", consultation="1")
    response = await start(api, form)
    assert response.status == 303, await response.text()
    location = response.headers["Location"]
    consultation_id = location.split("/")[2]
    assert location == f"/consultations/{consultation_id}/results"
    page = await (await api.client.get(location)).text()
    assert 'data-rate="responded">0<' in page
    assert f'hx-get="/consultations/{consultation_id}/rate"' in page
    questions = (await api.json("GET", f"/api/consultations/{consultation_id}"))["questions"]
    answers = {q["id"]: _answer(q) for q in questions if q.get("required")}
    await api.json(
        "POST",
        f"/api/consultations/{consultation_id}/responses",
        as_="hun-1",
        status=201,
        json={"answers": answers},
    )
    rate = await (await api.client.get(f"/consultations/{consultation_id}/rate")).text()
    assert 'data-rate="responded">1<' in rate
    listed = await (await api.client.get("/consultations")).text()
    assert f'id="x-{consultation_id}"' in listed
    for fmt in FORMATS:
        answer = await api.client.get(f"/consultations/{consultation_id}/results.{fmt}")
        assert answer.status == 200, fmt
    page = await (await api.client.get(location)).text()
    assert "Responses by country" in page


def _answer(question: dict[str, Any]) -> Any:
    kind = question["type"]
    if kind == "yes_no":
        return True
    if kind == "single":
        return question["options"][0]
    if kind == "multiple":
        return question["options"][:1]
    if kind == "scale":
        return question["min"]
    return "fine"


async def test_a_poc_is_refused_every_secretariat_page(api: Api) -> None:
    await sign_in(api, await api.token("hun-1"))
    for path in ("/exercises", "/exercises/start", "/consultations", "/consultations/start"):
        response = await api.client.get(path)
        assert response.status == 403, path
    csrf = await csrf_of(api, "/contact")
    response = await start(api, start_form(csrf, bundled=DRILL))
    assert response.status == 403
    assert (await api.json("GET", "/api/exercises"))["exercises"] == []


async def test_the_history_across_exercises_is_the_apis_in_every_format(api: Api) -> None:
    csrf = await admin(api)
    for _ in range(2):
        await started(api, csrf, bundled="connectivity-test.yaml", clock="virtual")
    page = await api.client.get("/exercises/history?kind=connectivity_test&country=HUN")
    text = await page.text()
    assert page.status == 200 and '<section class="report" aria-label="The history">' in text
    assert "<table>" in text.split('aria-label="The history"')[1]
    assert 'href="/exercises/history.csv?kind=connectivity_test&amp;country=HUN"' in text
    for fmt in FORMATS:
        answer = await api.client.get(f"/exercises/history.{fmt}?country=HUN")
        expected = await api.call("GET", f"/api/reports/history?format={fmt}&country=HUN")
        assert answer.status == expected.status == 200, fmt
        assert answer.content_type == expected.content_type
        if fmt in ("json", "csv", "md"):
            assert await answer.read() == await expected.read()
    bad = await api.client.get("/exercises/history?country=XXX")
    assert bad.status == 422 and "XXX" in await bad.text()

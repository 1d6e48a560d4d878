"""The secretariat's pages in a real headless Chromium (Playwright, the fixtures of
tests/web/conftest.py): a drill started from a bundled scenario and watched live; a
message in `actual` mode sent only after its confirmation; axe-core on every one of the
secretariat's pages (their screenshots for the README); an exercise started with the
keyboard alone."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from ians.web.exercise_pages import scenarios_key
from ians.web.keys import tracker_key
from tests.web.conftest import LiveServer, axe_problems, screenshot, sign_in
from tests.web.test_exercise_pages import DRILL, SCENARIOS

DRILL_NAME = "Pančevo ammonia release (web test drill)"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path_factory.mktemp("admin"))
    live.app[scenarios_key] = SCENARIOS  # bundled scenarios that fit the test registry
    with live:
        yield live


def run_due(server: LiveServer) -> None:
    """Fire the server's timers that are due (injects, simulated PoCs)."""
    server.run(server.app[tracker_key].timers.run_due())


def exercise_of(page: Any) -> str:
    found = re.search(r"/exercises/([^/?]+)$", page.url)
    assert found, page.url
    return found[1]


def test_a_drill_from_a_bundled_scenario_progresses_live(server: LiveServer, contexts: Any) -> None:
    admin = contexts().new_page()
    sign_in(admin, server, "admin")
    admin.get_by_role("link", name="Exercises").click()
    admin.get_by_role("link", name="Start an exercise").click()
    admin.get_by_label(re.compile(re.escape(DRILL_NAME))).check()
    admin.get_by_label("Speed", exact=True).fill("60")
    before = server.watchers()
    admin.get_by_role("button", name="Start the exercise").click()
    expect(admin.get_by_role("heading", level=1)).to_have_text(DRILL_NAME)
    exercise_id = exercise_of(admin)
    deadline_watch(server, before)
    admin.evaluate("window.notReloaded = true")
    injects = admin.locator('[data-progress="injects"]')
    expect(injects).to_have_text("0 of 2")

    run_due(server)  # ew1 goes out: its countries and the progress appear without a reload
    expect(injects).to_have_text("1 of 2")
    message_id = server.call("GET", f"/api/messages?exercise={exercise_id}")["messages"][0]["id"]
    hun = admin.locator(f"#c-{message_id}-HUN [data-state]")
    expect(hun).to_have_attribute("data-state", "sent")
    server.call("POST", f"/api/messages/{message_id}/ack", as_="hun-1", body={})
    expect(hun).to_have_attribute("data-state", "acknowledged")
    expect(admin.locator('[data-progress="acknowledged"]')).to_have_text("1")
    assert admin.evaluate("window.notReloaded") is True
    screenshot(admin, "exercise")

    admin.get_by_role("link", name="Stop the exercise…").click()
    admin.get_by_role("button", name="Yes, stop it").click()
    expect(admin.get_by_role("status").first).to_contain_text("The exercise was stopped")
    expect(admin.get_by_role("region", name="The report")).to_contain_text("Summary")
    assert server.call("GET", f"/api/exercises/{exercise_id}")["state"] == "stopped"
    with admin.expect_download() as download:
        admin.get_by_role("link", name="csv", exact=True).click()
    assert download.value.suggested_filename == f"{exercise_id}-report.csv"


def deadline_watch(server: LiveServer, before: int) -> None:
    """Until the page's event stream is open on the server."""
    from tests.web.test_pages_in_browser import wait_for

    wait_for(lambda: server.watchers() > before)


def test_an_actual_message_is_sent_only_after_its_confirmation(
    server: LiveServer, contexts: Any
) -> None:
    admin = contexts().new_page()
    sign_in(admin, server, "admin")
    admin.get_by_role("link", name="Send a message").click()
    admin.get_by_label("Report type").select_option("test")
    admin.get_by_role("button", name="Choose this type").click()
    expect(admin.get_by_role("heading", name="Communication test", exact=True)).to_be_visible()
    expect(admin.get_by_role("radio", name=re.compile("^exercise:"))).to_be_checked()
    admin.get_by_role("radio", name=re.compile("^actual:")).check()
    admin.get_by_label("From").select_option("SRB")
    admin.get_by_label("Hungary (HUN)").check()
    admin.get_by_label("Text (required)").fill("Real-mode check of the IAN System.")
    sent_before = len(server.call("GET", "/api/messages?mode=actual")["messages"])
    admin.get_by_role("button", name="Send", exact=True).click()
    expect(admin.get_by_role("heading", level=1)).to_have_text("Confirm: send a real notification")
    assert len(server.call("GET", "/api/messages?mode=actual")["messages"]) == sent_before
    admin.get_by_role("button", name="No, change the form").click()
    expect(admin.get_by_label("Text (required)")).to_have_value(
        "Real-mode check of the IAN System."
    )
    admin.get_by_role("button", name="Send", exact=True).click()
    admin.get_by_role("button", name="Yes, send this real notification").click()
    expect(admin.get_by_role("status").first).to_contain_text("was sent")
    messages = server.call("GET", "/api/messages?mode=actual")["messages"]
    assert len(messages) == sent_before + 1 and messages[0]["to"] == ["HUN"]


def test_every_secretariat_page_passes_axe(server: LiveServer, contexts: Any) -> None:
    problems: dict[str, list[str]] = {}
    admin = contexts(axe=True).new_page()

    def check(name: str, path: str | None = None, shot: str | None = None) -> None:
        if path is not None:
            admin.goto(server.url + path)
        admin.wait_for_load_state()
        problems[name] = axe_problems(admin)
        if shot:
            screenshot(admin, shot)

    server.call("POST", "/api/pocs/hun-1/confirm-details", as_="hun-1")
    sign_in(admin, server, "admin")
    check("registry", "/registry", "registry")
    check("send", "/send", "send")
    admin.get_by_label("Latitude").fill("north")
    admin.get_by_role("button", name="Send", exact=True).click()
    check("send with errors", shot="send-errors")
    admin.goto(server.url + "/send?type=test")
    admin.get_by_role("radio", name=re.compile("^actual:")).check()
    admin.get_by_label("Romania (ROU)").check()
    admin.get_by_label("Text (required)").fill("check")
    admin.get_by_role("button", name="Send", exact=True).click()
    check("send: confirm actual", shot="send-confirm")
    check("start an exercise", "/exercises/start", "exercise-start")
    admin.get_by_role("button", name="Start the exercise").click()
    check("start with errors")
    admin.get_by_label(re.compile(re.escape(DRILL_NAME))).check()
    admin.get_by_role("button", name="Start the exercise").click()
    exercise_id = exercise_of(admin)
    run_due(server)
    check("exercise running", f"/exercises/{exercise_id}")
    check("stop an exercise", f"/exercises/{exercise_id}/stop")
    admin.get_by_role("button", name="Yes, stop it").click()
    check("exercise with its report", shot="exercise-report")
    check("exercises", "/exercises", "exercises")
    check("history across exercises", "/exercises/history")
    check("start a consultation", "/consultations/start")
    admin.get_by_label(re.compile("Electronic consultation")).check()
    admin.get_by_role("button", name="Start the consultation").click()
    check("consultation results", shot="consultation-results")
    check("consultations", "/consultations", "consultations")
    assert not any(problems.values()), {k: v for k, v in problems.items() if v}
    assert len(problems) == 14


def test_an_exercise_started_with_the_keyboard_alone(server: LiveServer, contexts: Any) -> None:
    from tests.web.test_pages_in_browser import tab_to

    page = contexts().new_page()
    sign_in(page, server, "admin")
    page.goto(server.url + "/exercises/start")
    tab_to(page, lambda f: f["tag"] == "INPUT" and f["id"] == "", most=40)  # the first radio
    for _ in range(10):  # arrow keys move through a radio group
        if page.evaluate("document.activeElement.value") == DRILL:
            break
        page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.value") == DRILL
    page.keyboard.press("Space")
    tab_to(page, lambda f: f["text"] == "Start the exercise", most=40)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text(DRILL_NAME)
    assert server.call("GET", f"/api/exercises/{exercise_of(page)}")["state"] == "running"

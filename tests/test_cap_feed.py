"""The Atom feed of messages: what the caller may read, newest first, each entry linking
to its CAP; paged; a rehearsal's messages in no feed."""

from __future__ import annotations

from datetime import timedelta

from lxml import etree
from yarl import URL

from ians.clock import ManualClock
from tests.conftest import Api, early_warning
from tests.test_cap import (
    ATOM,
    CAP,
    get_cap,
    send,
    valid,
)


async def feed_of(api: Api, as_: str = "admin", query: str = "") -> etree._Element:
    feed = await get_cap(api, f"/api/feed.atom{query}", as_)
    assert feed.tag == f"{ATOM}feed"
    for required in ("id", "title", "updated"):  # RFC 4287 4.1.1
        assert feed.findtext(f"{ATOM}{required}"), required
    for entry in feed.iter(f"{ATOM}entry"):  # RFC 4287 4.1.2
        for required in ("id", "title", "updated", "author/" + ATOM + "name"):
            assert entry.findtext(f"{ATOM}{required}"), required
    return feed


def entries(feed: etree._Element) -> list[tuple[str, str]]:
    """(title, CAP link) of each entry, in order."""
    return [
        (
            str(e.findtext(f"{ATOM}title")),
            next(
                str(link.get("href"))
                for link in e.iter(f"{ATOM}link")
                if link.get("rel") == "alternate" and link.get("type") == CAP
            ),
        )
        for e in feed.iter(f"{ATOM}entry")
    ]


async def test_the_feed_lists_what_the_caller_may_read_newest_first(
    api: Api, clock: ManualClock
) -> None:
    sent = []
    for body in (
        early_warning(),  # SRB → HUN, ROU: reaches hun-1 and rou-1
        early_warning(sender="HUN", to=["ROU"]),
        early_warning(sender="ROU", to=["SRB"], mode="actual"),
    ):
        sent.append(await send(api, body))
        clock.advance(timedelta(minutes=1))
    ids = [m["id"] for m in sent]
    everything = entries(await feed_of(api))
    assert [link.rsplit("/", 1)[1] for _, link in everything] == [
        f"{i}?format=cap" for i in reversed(ids)
    ]
    assert everything[0][0] == "Early warning: release at Pančevo"  # actual: no mark
    assert everything[1][0] == "[EXERCISE] Early warning: release at Pančevo"
    # each entry's CAP link serves the message's CAP to the same caller
    for _, link in everything:
        valid(await get_cap(api, URL(link).path_qs))
    # a PoC: what its country sent or received, nothing else
    hun1 = [link for _, link in entries(await feed_of(api, "hun-1"))]
    assert [link.split("/")[-1] for link in hun1] == [
        f"{ids[1]}?format=cap",
        f"{ids[0]}?format=cap",
    ]
    # hun-3 was reached by nothing, but its country was: it reads what hun-1 reads
    assert [link for _, link in entries(await feed_of(api, "hun-3"))] == hun1
    srb = [link for _, link in entries(await feed_of(api, "srb-1"))]
    assert [link.split("/")[-1] for link in srb] == [f"{ids[2]}?format=cap", f"{ids[0]}?format=cap"]


async def test_the_feed_pages_with_a_next_link(api: Api, clock: ManualClock) -> None:
    ids = []
    for _ in range(5):
        ids.append((await send(api, early_warning()))["id"])
        clock.advance(timedelta(seconds=1))
    seen: list[str] = []
    query = "?limit=2"
    for _ in range(5):  # bounded: 3 pages expected
        feed = await feed_of(api, "admin", query)
        seen += [link.split("/")[-1].split("?")[0] for _, link in entries(feed)]
        after = [
            link.get("href") for link in feed.findall(f"{ATOM}link") if link.get("rel") == "next"
        ]
        if not after:
            break
        query = "?" + str(after[0]).split("?", 1)[1]
    assert seen == list(reversed(ids))
    body = await api.json("GET", "/api/feed.atom?limit=0", status=422)
    assert body["error"]["details"][0]["field"] == "limit"


async def test_a_rehearsals_messages_are_in_no_feed(api: Api) -> None:
    from tests.test_rehearsals import virtual_drill

    live = await send(api, early_warning())
    _, report = await virtual_drill(api)
    assert report["recipients"]  # the rehearsal sent messages
    for caller in ("admin", "srb-1", "hun-1"):
        links = [link for _, link in entries(await feed_of(api, caller))]
        assert [URL(link).name for link in links] == [live["id"]], caller

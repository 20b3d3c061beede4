"""The dashboard in a real browser: Playwright drives Debian's Chromium against a real server."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from tests.conftest import ServerProcess

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
WAIT = 10_000  # ms any one expectation may take on a slow, shared machine
LIVE = 3_000  # ms a line posted to an open session may take to show up
INJECTION = "<img src=x onerror=alert(1)>"

PARENT = "0123456789abcdef0123450a"
CHILD = "0123456789abcdef0123450b"
JOB_A = "0123456789abcdef0123450c"
JOB_B = "0123456789abcdef0123450d"
ENDED = "0123456789abcdef0123450e"
SID = "0123456789abcdef01234567"


@dataclass
class Tab:
    """A page, and what it did that a test wants to know about."""

    page: Page
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def http(live: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url, timeout=30) as client:
        yield client


@pytest.fixture
def tab(browser: Browser) -> Iterator[Tab]:
    """A fresh laptop-sized page that records dialogs and script errors; none may happen."""
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="en-US")
    context.set_default_timeout(WAIT)
    tab = Tab(context.new_page())
    tab.page.on("dialog", lambda dialog: (tab.dialogs.append(dialog.message), dialog.dismiss()))
    tab.page.on("pageerror", lambda error: tab.errors.append(str(error)))
    tab.page.on("console", lambda message: _console(tab, message.type, message.text))
    try:
        yield tab
    finally:
        context.close()
    assert tab.dialogs == []
    assert tab.errors == []


def _console(tab: Tab, kind: str, text: str) -> None:
    # A refused connection while the server restarts is expected; anything else is a bug.
    if kind == "error" and "WebSocket connection" not in text and "ERR_CONNECTION" not in text:
        tab.errors.append(text)


def register(http: httpx.Client, sid: str, **body: Any) -> None:
    assert http.post(f"/sessions/{sid}", json=body).status_code in (200, 201)


def post_lines(http: httpx.Client, sid: str, lines: list[str]) -> int:
    body = "\n".join(lines).encode()
    response = http.post(
        f"/sessions/{sid}/log", content=body, headers={"content-type": "text/plain"}
    )
    assert response.status_code == 200
    return int(response.json()["cursor"])


def post_entries(http: httpx.Client, sid: str, entries: list[dict[str, Any]]) -> None:
    assert http.post(f"/sessions/{sid}/log", json={"entries": entries}).status_code == 200


def server_cursors(http: httpx.Client, sid: str) -> list[int]:
    cursors: list[int] = []
    page = {"cursor": 0, "more": True}
    while page["more"]:
        params = {"cursor": page["cursor"], "limit": 10000}
        page = http.get(f"/sessions/{sid}/log", params=params).json()
        cursors += [entry["cursor"] for entry in page["entries"]]
    return cursors


def row(page: Page, sid: str) -> Locator:
    return page.locator(f'tr[data-id="{sid}"]')


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name))


def open_session(page: Page, live: ServerProcess, sid: str) -> Locator:
    """Open the session by its URL; the log viewport once the live tail runs."""
    page.goto(f"{live.url}/#/session/{sid}")
    expect(page.locator(".log-state")).to_have_text("Live")
    return page.locator(".log-viewport")


def test_sessions_appear_live_as_a_tree_with_job_groups(
    tab: Tab, http: httpx.Client, live: ServerProcess
) -> None:
    page = tab.page
    page.goto(live.url)
    expect(page.locator(".server-status-label")).to_have_text("Connected")
    expect(page.locator("tr.is-self")).to_contain_text("sessions-server")
    expect(page.locator("tr.is-self .chip-self")).to_have_text("this server")

    metadata = {"project": "Lyra", "changelist": 123456, "note": INJECTION}
    register(
        http, PARENT, appname="UnrealEditor", mode="editor", platform="Linux", metadata=metadata
    )
    expect(row(page, PARENT)).to_contain_text("UnrealEditor")  # no reload
    register(http, CHILD, appname="ShaderCompileWorker", mode="worker", parent_session_id=PARENT)
    register(http, JOB_A, appname="cook", mode="commandlet", platform="Win64", jobid="JOB-17")
    register(http, JOB_B, appname="cook", mode="commandlet", platform="PS5", jobid="JOB-17")
    register(http, ENDED, appname="<b>build</b>", mode="ci")
    expect(page.locator(".counts")).to_contain_text("6 active")

    expect(row(page, PARENT)).to_contain_text("+1")  # the child is folded under its parent
    expect(row(page, CHILD)).to_have_count(0)
    row(page, PARENT).locator(".toggle").click()
    expect(row(page, CHILD)).to_be_visible()
    child_indent = row(page, CHILD).locator(".app").evaluate("e => e.style.paddingLeft")
    assert child_indent != "0rem"
    job = page.locator("tr.job-row")
    expect(job).to_contain_text("JOB-17")
    expect(job).to_contain_text("2 sessions")
    expect(row(page, ENDED)).to_contain_text("<b>build</b>")  # names are text, not markup

    duration = row(page, PARENT).locator(".col-duration")
    before = duration.text_content()
    expect(duration).not_to_have_text(before or "", timeout=LIVE)  # active durations tick
    shot(page, "dashboard-list.png")


def test_ended_sessions_and_the_text_filter(
    tab: Tab, http: httpx.Client, live: ServerProcess
) -> None:
    page = tab.page
    register(http, PARENT, appname="cook", mode="commandlet", metadata={"map": "Arena"})
    register(http, CHILD, appname="editor", platform="Win64")
    register(http, ENDED, appname="build", jobid="JOB-9")
    assert http.delete(f"/sessions/{ENDED}").status_code == 200
    page.goto(live.url)
    expect(row(page, PARENT)).to_be_visible()
    expect(row(page, ENDED)).to_have_count(0)

    page.get_by_role("button", name=re.compile("^Ended")).click()
    expect(row(page, ENDED)).to_contain_text("client request")
    expect(row(page, PARENT)).to_have_count(0)
    page.get_by_role("button", name=re.compile("^All")).click()
    expect(page.locator("tr.session-row")).to_have_count(4)  # with the server's own session

    search = page.locator(".list-filter")
    for text, shown in [("arena", PARENT), ("WIN64", CHILD), ("job-9", ENDED), (CHILD[-6:], CHILD)]:
        search.fill(text)
        expect(page.locator("tr.session-row")).to_have_count(1)
        expect(row(page, shown)).to_be_visible()
    search.fill("nothing like this")
    expect(page.locator(".list-empty")).to_have_text("No session matches the filter.")


def test_session_view_shows_history_then_live_lines(
    tab: Tab, http: httpx.Client, live: ServerProcess
) -> None:
    page = tab.page
    register(http, SID, appname="cook", mode="commandlet", platform="Linux",
             metadata={"map": "Arena", "note": INJECTION})  # fmt: skip
    levels = ["trace", "debug", "info", "warn", "error", "critical", None]
    history = [
        {"level": levels[i % 7], "logger": "LogCook", "message": f"Cooking package {i} of 40"}
        for i in range(40)
    ]
    history.append({"level": "info", "logger": "LogHtml", "message": INJECTION})
    post_entries(http, SID, history)
    page.goto(live.url)
    row(page, SID).click()
    expect(page).to_have_url(re.compile(f"#/session/{SID}$"))
    log = page.locator(".log-viewport")
    expect(log).to_contain_text(INJECTION)  # shown literally, last line, in view
    expect(page.locator(".sv-metadata")).to_contain_text(f'"note": "{INJECTION}"')
    expect(page.locator(".log-state")).to_have_text("Live")

    post_lines(http, SID, ["live line one", "live line two"])
    expect(log).to_contain_text("live line two", timeout=LIVE)
    assert page.locator(".session-pane img").count() == 0
    shot(page, "dashboard-session.png")
    page.emulate_media(color_scheme="dark")
    shot(page, "dashboard-session-dark.png")
    page.emulate_media(color_scheme="light")
    page.set_viewport_size({"width": 820, "height": 1000})  # stacked on a narrow window
    shot(page, "dashboard-narrow.png")
    page.set_viewport_size({"width": 1440, "height": 900})

    page.reload()  # the URL names the session, so it comes back with its log
    expect(page.locator(".sv-title")).to_have_text("cook")
    expect(log).to_contain_text("live line two")
    page.go_back()
    expect(page.locator(".session-pane")).to_be_hidden()
    expect(row(page, SID)).to_be_visible()


def test_level_filter_search_details_and_download(
    tab: Tab, http: httpx.Client, live: ServerProcess
) -> None:
    page = tab.page
    register(http, SID, appname="cook")
    entries: list[dict[str, Any]] = [
        {"level": level, "logger": "LogCook", "message": f"{level} message"}
        for level in ["trace", "debug", "info", "warn", "error", "critical"]
    ]
    entries.append(
        {"message": "plain line\nwith a second line", "timestamp": "2026-01-02T03:04:05Z"}
    )
    post_entries(http, SID, entries)
    log = open_session(page, live, SID)
    rows = log.locator(".log-row:visible")
    messages = log.locator(".log-row:visible .log-msg")
    expect(rows).to_have_count(7)

    page.locator(".log-level").select_option("3")  # warn and up, plus lines without a level
    expect(rows).to_have_count(4)
    page.locator(".log-unlevelled").uncheck()
    expect(messages).to_have_text(["warn message", "error message", "critical message"])
    post_entries(
        http, SID, [{"level": "info", "message": "x"}, {"level": "error", "message": "new"}]
    )
    expect(messages).to_have_text(["warn message", "error message", "critical message", "new"])
    page.locator(".log-level").select_option("0")
    page.locator(".log-unlevelled").check()

    page.locator(".log-search").fill("MESSAGE")
    expect(rows).to_have_count(6)
    expect(page.locator(".log-matches")).to_have_text("6 matches")
    expect(log.locator("mark").first).to_have_text("message")
    page.locator(".log-only").uncheck()  # highlight only: every line again
    expect(rows).to_have_count(9)
    page.locator(".log-search").fill("")
    expect(log.locator("mark")).to_have_count(0)

    rows.filter(has_text="plain line").click()  # the full text of a truncated row
    expect(page.locator(".detail-message")).to_have_text("plain line\nwith a second line")
    shot(page, "dashboard-detail.png")

    with page.expect_download() as download:
        page.locator(".log-download").click()
    text = Path(download.value.path()).read_text()
    lines = text.splitlines()
    assert len(lines) == 9
    assert re.fullmatch(r"\S+Z warn LogCook: warn message", lines[3])
    assert lines[6] == "2026-01-02T03:04:05.000Z plain line\\nwith a second line"


def test_a_hundred_thousand_lines_open_and_scroll(
    tab: Tab, http: httpx.Client, live: ServerProcess
) -> None:
    page = tab.page
    register(http, SID, appname="big")
    for batch in range(10):
        first = batch * 10_000
        post_lines(http, SID, [f"line {n:06d} of a long log" for n in range(first, first + 10_000)])
    page.goto(f"{live.url}/#/session/{SID}")
    expect(page.locator(".log-count")).to_have_text("100,000 lines", timeout=30_000)
    log = page.locator(".log-viewport")
    expect(log).to_contain_text("line 099999")  # it opens at the end
    assert page.locator(".log-row").count() < 500

    log.evaluate("viewport => { viewport.scrollTop = 0 }")
    expect(log).to_contain_text("line 000000")
    expect(log).not_to_contain_text("line 099999")
    log.evaluate("viewport => { viewport.scrollTop = viewport.scrollHeight / 2 }")
    expect(log).to_contain_text(re.compile(r"line 0(49[89]|50[01])\d\d"))
    assert page.locator(".log-row").count() < 500

    log.evaluate("viewport => { viewport.scrollTop = 0 }")  # paused: new lines wait below
    post_lines(http, SID, ["tail 1", "tail 2", "tail 3"])
    new_lines = page.locator(".log-new")
    expect(new_lines).to_have_text("3 new lines ↓", timeout=LIVE)
    expect(log).to_contain_text("line 000000")
    new_lines.click()
    expect(log).to_contain_text("tail 3")
    expect(new_lines).to_be_hidden()
    post_lines(http, SID, ["tail 4"])  # at the bottom again: it follows
    expect(log).to_contain_text("tail 4", timeout=LIVE)
    assert page.locator(".log-row").count() < 500


def test_log_resumes_after_a_server_restart_without_gap_or_duplicate(
    tab: Tab, http: httpx.Client, live: ServerProcess
) -> None:
    page = tab.page
    register(http, SID, appname="cook")
    post_lines(http, SID, [f"before {i}" for i in range(5)])
    log = open_session(page, live, SID)
    expect(log).to_contain_text("before 4")
    post_lines(http, SID, [f"live {i}" for i in range(5)])
    expect(log).to_contain_text("live 4", timeout=LIVE)

    live.stop()
    expect(page.locator(".server-status")).to_have_attribute("data-state", "reconnecting")
    expect(page.locator(".server-status-label")).to_have_text("Reconnecting…")
    expect(page.locator(".banner")).to_be_visible()
    live.start()
    post_lines(http, SID, [f"while away {i}" for i in range(5)])  # before the page is back
    expect(page.locator(".server-status-label")).to_have_text("Connected")
    expect(page.locator(".banner")).to_be_hidden()
    post_lines(http, SID, [f"after {i}" for i in range(5)])
    expect(log).to_contain_text("after 4")

    shown = page.evaluate("window.__dashboard.cursors()")
    assert all(a < b for a, b in pairwise(shown))
    assert shown == server_cursors(http, SID)
    assert len(shown) == 20


def test_a_server_with_a_token_is_asked_for_it_once(browser: Browser, tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "s.db", "--token", "s3cret", "--ws-list-seconds", "0.2")
    server.start()
    try:
        headers = {"authorization": "Bearer s3cret"}
        assert (
            httpx.post(
                f"{server.url}/sessions/{SID}", json={"appname": "guarded"}, headers=headers
            ).status_code
            == 201
        )
        context = browser.new_context()
        context.set_default_timeout(WAIT)
        page = context.new_page()
        asked: list[str] = []
        page.on("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept("s3cret")))
        page.goto(server.url)
        expect(row(page, SID)).to_be_visible()
        assert len(asked) == 1 and "token" in asked[0]
        page.reload()  # kept in this browser: not asked again
        expect(row(page, SID)).to_be_visible()
        assert len(asked) == 1
        context.close()
    finally:
        server.stop()

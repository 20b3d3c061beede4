"""The command-line tools (ls, show, tail, sql, export, run) as real processes against a server."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import pty
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from service.client import SessionClient
from tests.conftest import OTHER, SID, ServerProcess, free_port

README = Path(__file__).resolve().parent.parent / "README.md"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
FAILING = "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"


def sessions(*args: str, timeout: float = 30, **options: Any) -> subprocess.CompletedProcess[str]:
    """`python -m service ARGS`, its output captured as text."""
    command = [sys.executable, "-m", "service", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, **options)


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    """Poll until `condition` holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def on_terminal(args: list[str], *, stream: str = "stdout", **env: str) -> tuple[int, str]:
    """Run with stdout (or stderr) on a pseudo-terminal; the exit code and what it showed."""
    controller, terminal = pty.openpty()
    command = [sys.executable, "-m", "service", *args]
    with subprocess.Popen(
        command,
        env={**os.environ, **env},
        stdin=subprocess.DEVNULL,
        stdout=terminal if stream == "stdout" else subprocess.DEVNULL,
        stderr=terminal if stream == "stderr" else subprocess.DEVNULL,
    ) as process:
        os.close(terminal)
        shown = b""
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the process closed its end
                break
            if not chunk:
                break
            shown += chunk
        code = process.wait(timeout=30)
    os.close(controller)
    return code, shown.decode()


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server for the tests that only add sessions of their own."""
    process = ServerProcess(tmp_path_factory.mktemp("cli") / "sessions.db").start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def cook(shared: ServerProcess) -> str:
    """An active session with a log of 15 lines at several levels; SID."""
    levels = ["info", "debug", "warning", None, "error"] * 3
    with SessionClient(shared.url) as client:
        client.register(SID, appname="cook", mode="commandlet", metadata={"map": "Arena"})
        records = [
            {"message": f"line {i}", "logger": "LogCook", **({"level": level} if level else {})}
            for i, level in enumerate(levels)
        ]
        client.log(SID, records)
    return SID


@pytest.fixture(scope="module")
def quiet_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database file no server is using: two sessions, five log entries."""
    db = tmp_path_factory.mktemp("quiet") / "sessions.db"
    assert sessions("migrate", "--db", str(db)).returncode == 0
    with sqlite3.connect(db) as conn:
        for sid, app in ((SID, "cook"), (OTHER, "build")):
            conn.execute(
                "INSERT INTO sessions (id, appname, metadata, created_at, updated_at, log_count)"
                " VALUES (?, ?, '{}', '2026-12-04T19:36:39.123Z', '2026-12-04T19:36:39.123Z', ?)",
                (sid, app, 5 if sid == SID else 0),
            )
        conn.executemany(
            "INSERT INTO log_entries (session_id, timestamp, level, message) VALUES (?, ?, ?, ?)",
            [(SID, "2026-12-04T19:36:40.000Z", "info", f"entry {i}") for i in range(5)],
        )
    conn.close()
    return db


def fingerprint(db: Path) -> tuple[str, list[str], int]:
    """The file's hash, its full SQL dump and user_version: any write changes one of them."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        dump = list(conn.iterdump())
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    finally:
        conn.close()
    return hashlib.sha256(db.read_bytes()).hexdigest(), dump, version


# --- ls and show ----------------------------------------------------------------------------


def test_ls_lists_sessions_as_a_plain_table_and_as_json(shared: ServerProcess, cook: str) -> None:
    with SessionClient(shared.url) as client:
        ended = client.register(appname="cook", platform="Linux")
        client.end(ended)
    active = sessions("ls", "--url", shared.url, "--app", "cook")
    everything = sessions("ls", "--url", shared.url, "--status", "all", "--app", "cook")
    as_json = sessions("ls", "--url", shared.url, "--status", "ended", "--app", "cook", "--json")
    assert active.returncode == everything.returncode == as_json.returncode == 0
    header, *rows = everything.stdout.splitlines()
    assert header.split() == [
        *("ID", "APP", "MODE", "PLATFORM", "PID", "STARTED", "DURATION", "STATUS", "LOGS")
    ]
    assert not ANSI.search(everything.stdout)  # not a terminal: no colours, nothing cut
    assert [row.split()[0] for row in rows] == [cook, ended]  # active first
    assert rows[0].split()[1:3] == ["cook", "commandlet"] and rows[0].endswith(" 15")
    assert "client request" in rows[1] and "Linux" in rows[1]
    assert [row.split()[0] for row in active.stdout.splitlines()[1:]] == [cook]
    assert [info["id"] for info in json.loads(as_json.stdout)] == [ended]


def test_ls_fits_a_terminal_and_colours_it(shared: ServerProcess) -> None:
    with SessionClient(shared.url) as client:
        client.register(appname="a-rather-long-application-name-" * 3, mode="editor")
    code, shown = on_terminal(["ls", "--url", shared.url], COLUMNS="120")
    assert code == 0
    lines = shown.splitlines()
    assert "\x1b[1m" in lines[0]  # a bold header
    assert all(len(ANSI.sub("", line)) <= 120 for line in lines)
    (row,) = [ANSI.sub("", line) for line in lines if "a-rather-long" in line]
    assert "…" in row and "application-name-a" not in row
    _, plain = on_terminal(["ls", "--url", shared.url], COLUMNS="120", NO_COLOR="1")
    assert not ANSI.search(plain)


def test_show_prints_info_and_metadata(shared: ServerProcess, cook: str) -> None:
    readable = sessions("show", cook, "--url", shared.url)
    as_json = sessions("show", cook.upper(), "--url", shared.url, "--json")
    assert readable.returncode == as_json.returncode == 0
    assert re.search(rf"^id +{cook}$", readable.stdout, re.M)
    assert re.search(r"^app +cook$", readable.stdout, re.M)
    assert re.search(r"^status +active$", readable.stdout, re.M)
    assert re.search(r"^log entries +15$", readable.stdout, re.M)
    assert re.search(r"^metadata\n  map +Arena$", readable.stdout, re.M)
    info = json.loads(as_json.stdout)
    assert (info["id"], info["metadata"], info["log_count"]) == (cook, {"map": "Arena"}, 15)


def test_errors_are_one_line_and_exit_code_1(shared: ServerProcess) -> None:
    missing = sessions("show", OTHER, "--url", shared.url)
    invalid = sessions("tail", "nonsense", "--url", shared.url)
    nobody = sessions("ls", "--url", f"http://127.0.0.1:{free_port()}")
    assert (missing.returncode, invalid.returncode, nobody.returncode) == (1, 1, 1)
    assert missing.stderr == f"sessions show: Session '{OTHER}' not found\n"
    assert invalid.stderr == "sessions tail: Invalid session id 'nonsense'\n"
    assert nobody.stderr.startswith("sessions ls: cannot reach http://127.0.0.1:")
    assert "Traceback" not in missing.stderr + invalid.stderr + nobody.stderr


def test_url_comes_from_the_environment(shared: ServerProcess, cook: str) -> None:
    listing = sessions("ls", env={**os.environ, "SESSIONS_URL": shared.url})
    assert listing.returncode == 0 and cook in listing.stdout


# --- tail -----------------------------------------------------------------------------------


def test_tail_prints_the_last_lines_and_exits(shared: ServerProcess, cook: str) -> None:
    default = sessions("tail", cook, "--url", shared.url)
    three = sessions("tail", cook, "-n", "3", "--url", shared.url)
    everything = sessions("tail", cook, "--from-start", "--url", shared.url, "--json")
    assert default.returncode == three.returncode == everything.returncode == 0
    assert [line.split(": ", 1)[1] for line in default.stdout.splitlines()] == [
        f"line {i}" for i in range(5, 15)
    ]
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z warn  LogCook: line 12\n"
        r"\S+ -     LogCook: line 13\n"
        r"\S+ error LogCook: line 14\n",
        three.stdout,
    )
    entries = [json.loads(line) for line in everything.stdout.splitlines()]
    assert [e["message"] for e in entries] == [f"line {i}" for i in range(15)]
    assert entries[2]["level"] == "warn" and "level" not in entries[3]


def test_tail_filters_by_minimum_level(shared: ServerProcess, cook: str) -> None:
    warn = sessions("tail", cook, "--level", "warning", "-n", "4", "--url", shared.url)
    assert warn.returncode == 0
    # warn, error and lines without a level pass; -n counts the lines that pass
    assert [line.split(": ", 1)[1] for line in warn.stdout.splitlines()] == [
        f"line {i}" for i in (9, 12, 13, 14)
    ]
    bad = sessions("tail", cook, "--level", "loud", "--url", shared.url)
    assert bad.returncode == 2 and "unknown level 'loud'" in bad.stderr


def test_tail_follow_survives_a_server_restart(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "sessions.db").start()
    client = SessionClient(server.url)
    command = [sys.executable, "-m", "service", "tail", SID, "--follow", "--url", server.url]
    try:
        client.register(SID, appname="cook")
        client.log(SID, ["before 1", "before 2"])
        with subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        ) as tail:
            lines: list[str] = []
            reader = threading.Thread(target=lambda: lines.extend(tail.stdout or ()), daemon=True)
            reader.start()
            wait_for(lambda: len(lines) == 2)
            client.log(SID, ["new 1", "new 2"])
            wait_for(lambda: len(lines) == 4)
            server.stop()
            time.sleep(0.5)  # the tail finds the server gone and retries, quietly
            server.start()  # the same port, the same database
            client.log(SID, ["after 1", "after 2", "after 3"])
            wait_for(lambda: len(lines) == 7)
            time.sleep(0.3)  # nothing more may come: no duplicates
            tail.send_signal(signal.SIGINT)
            code = tail.wait(timeout=10)
            reader.join(5)
            errors = tail.stderr.read() if tail.stderr else ""
        assert [line.split(" ", 2)[2].strip() for line in lines] == [
            *("before 1", "before 2", "new 1", "new 2", "after 1", "after 2", "after 3")
        ]
        assert code in (0, 130)
        assert errors == ""  # quiet while reconnecting, no traceback at Ctrl-C
    finally:
        client.close()
        if server.process is not None:
            server.stop()


# --- sql ------------------------------------------------------------------------------------


def test_sql_prints_a_table_csv_and_json(quiet_db: Path) -> None:
    query = "SELECT id, appname, log_count, NULL AS empty FROM sessions ORDER BY appname"
    table = sessions("sql", query, "--db", str(quiet_db))
    as_csv = sessions("sql", query, "--db", str(quiet_db), "--csv")
    as_json = sessions("sql", query, "--db", str(quiet_db), "--json")
    assert table.returncode == as_csv.returncode == as_json.returncode == 0
    assert table.stdout.splitlines() == [
        "id                        appname  log_count  empty",
        f"{OTHER}  build            0",
        f"{SID}  cook             5",
    ]
    assert list(csv.reader(io.StringIO(as_csv.stdout))) == [
        ["id", "appname", "log_count", "empty"],
        [OTHER, "build", "0", ""],
        [SID, "cook", "5", ""],
    ]
    assert json.loads(as_json.stdout) == [
        {"id": OTHER, "appname": "build", "log_count": 0, "empty": None},
        {"id": SID, "appname": "cook", "log_count": 5, "empty": None},
    ]
    assert table.stderr == as_csv.stderr == as_json.stderr == ""


def test_sql_uses_sessions_db_by_default(quiet_db: Path) -> None:
    env = {**os.environ, "SESSIONS_DB": str(quiet_db)}
    result = sessions("sql", "SELECT count(*) AS n FROM log_entries", "--csv", env=env)
    assert result.stdout == "n\n5\n"


def test_sql_row_limit_says_when_it_cut(quiet_db: Path) -> None:
    query = "SELECT message FROM log_entries ORDER BY cursor"
    cut = sessions("sql", query, "--db", str(quiet_db), "--limit", "2", "--csv")
    whole = sessions("sql", query, "--db", str(quiet_db), "--limit", "5", "--csv")
    assert cut.returncode == whole.returncode == 0
    assert cut.stdout == "message\nentry 0\nentry 1\n"
    assert "only the first 2 rows" in cut.stderr
    assert whole.stdout.count("entry") == 5 and whole.stderr == ""


def test_sql_time_limit_stops_a_runaway_query(quiet_db: Path) -> None:
    forever = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT max(i) FROM n"
    started = time.monotonic()
    result = sessions("sql", forever, "--db", str(quiet_db), "--timeout", "0.5")
    assert result.returncode == 1 and time.monotonic() - started < 10
    assert result.stderr == "sessions sql: the query took longer than 0.5 s and was stopped\n"


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO sessions (id, created_at, updated_at) VALUES ('x', '', '')",
        "UPDATE sessions SET appname = 'changed'",
        "DELETE FROM log_entries",
        "WITH doomed AS (SELECT 1) DELETE FROM log_entries",
        "DROP TABLE log_entries",
        "CREATE TABLE extra (x)",
        "ATTACH DATABASE 'other.db' AS other",
        "PRAGMA user_version = 1",
        "PRAGMA query_only = OFF",
        "VACUUM",
    ],
)
def test_sql_refuses_every_write(quiet_db: Path, statement: str) -> None:
    before = fingerprint(quiet_db)
    result = sessions("sql", statement, "--db", str(quiet_db), cwd=quiet_db.parent)
    assert result.returncode == 1
    refusal = r"sessions sql: read-only: .+ is not allowed \(only queries are\)\n"
    assert re.fullmatch(refusal, result.stderr)
    assert fingerprint(quiet_db) == before
    assert not (quiet_db.parent / "other.db").exists()


def test_sql_allows_reading_pragmas(quiet_db: Path) -> None:
    query = "SELECT name FROM pragma_table_info('sessions') WHERE pk = 1"
    assert sessions("sql", query, "--db", str(quiet_db), "--csv").stdout == "name\nid\n"
    assert sessions("sql", "PRAGMA user_version", "--db", str(quiet_db)).returncode == 0


# --- export ---------------------------------------------------------------------------------


def test_export_over_http_and_from_the_file_agree(shared: ServerProcess, tmp_path: Path) -> None:
    with SessionClient(shared.url) as client:
        sid = client.register(appname="big")
        client.log(sid, [f"bulk {i}" for i in range(10_000)])
        client.log(sid, [{"level": "warn", "format": "Cooked {N}", "fields": {"N": 3}}])
    http = sessions("export", sid, "--url", shared.url, "--format", "jsonl")
    text = sessions("export", sid, "--url", shared.url)
    direct = sessions("export", sid, "--db", str(shared.db), "--format", "jsonl")
    assert http.returncode == text.returncode == direct.returncode == 0
    entries = [json.loads(line) for line in http.stdout.splitlines()]
    assert [e["message"] for e in entries] == [f"bulk {i}" for i in range(10_000)] + ["Cooked 3"]
    assert entries[-1]["fields"] == {"N": 3} and entries[-1]["format"] == "Cooked {N}"
    assert direct.stdout == http.stdout  # the same bytes, whichever way it was read
    lines = text.stdout.splitlines()
    assert len(lines) == 10_001 and re.fullmatch(r"\S+Z warn  Cooked 3", lines[-1])
    assert http.stderr == direct.stderr == ""  # not a terminal: no progress bar

    target = tmp_path / "big.txt"
    to_file = sessions("export", sid, "--db", str(shared.db), "-o", str(target))
    assert to_file.returncode == 0 and to_file.stdout == ""
    assert target.read_text() == text.stdout


def test_export_shows_progress_on_a_terminal(shared: ServerProcess, tmp_path: Path) -> None:
    with SessionClient(shared.url) as client:
        sid = client.register(appname="big")
        client.log(sid, [f"bulk {i}" for i in range(10_000)])
    args = ["export", sid, "--url", shared.url, "-o", str(tmp_path / "out.txt")]
    code, shown = on_terminal(args, stream="stderr", COLUMNS="80")
    assert code == 0
    assert f"export {sid} [" in shown and "/10,000" in shown
    assert "10,000 entries written to" in shown
    assert (tmp_path / "out.txt").read_text().count("\n") == 10_000


def test_export_of_an_unknown_session_writes_nothing(shared: ServerProcess, tmp_path: Path) -> None:
    target = tmp_path / "missing.txt"
    http = sessions("export", OTHER, "--url", shared.url, "-o", str(target))
    direct = sessions("export", OTHER, "--db", str(shared.db))
    assert http.returncode == direct.returncode == 1
    assert http.stderr == direct.stderr == f"sessions export: Session '{OTHER}' not found\n"
    assert list(tmp_path.iterdir()) == []


# --- run ------------------------------------------------------------------------------------


def test_run_logs_both_streams_and_ends_with_the_exit_code(shared: ServerProcess) -> None:
    command = [sys.executable, "-c", FAILING]
    result = sessions("run", "--app", "failing", "--url", shared.url, "--", *command)
    assert result.returncode == 3
    assert (result.stdout, result.stderr) == ("out\n", "err\n")  # passed through unchanged
    with SessionClient(shared.url) as client:
        (info,) = client.list("all", appname="failing")["sessions"]
        entries = list(client.entries(info["id"]))
    assert info["status"] == "ended" and info["end_reason"] == "client request"
    assert info["metadata"] == {"exit_code": 3, "command": command}
    assert info["pid"] > 0
    # Two pipes have no order between them: each line is logged as its own pump reads it.
    *lines, ended = entries
    out, err = sorted(lines, key=lambda entry: entry["logger"] != "stdout")
    assert (out["message"], out["logger"], "level" in out) == ("out", "stdout", False)
    assert (err["message"], err["logger"], err["level"]) == ("err", "stderr", "error")
    assert ended["message"] == "session ended (client request)"


def test_run_passes_bytes_through_and_logs_partial_lines(shared: ServerProcess) -> None:
    script = (
        "import sys, time; sys.stdout.buffer.write(b'caf\\xc3\\xa9\\r\\nbad \\xff\\n\\nno end');"
        "sys.stdout.flush(); time.sleep(0.3); sys.stderr.write('warned\\n')"
    )
    options = ["--app", "bytes", "--stderr-level", "warning", "--mode", "test", "--url", shared.url]
    command = [sys.executable, "-m", "service", "run", *options, "--", sys.executable, "-c", script]
    result = subprocess.run(command, capture_output=True, timeout=30)
    assert result.returncode == 0
    assert result.stdout == b"caf\xc3\xa9\r\nbad \xff\n\nno end"
    assert result.stderr == b"warned\n"
    with SessionClient(shared.url) as client:
        (info,) = client.list("all", appname="bytes")["sessions"]
        entries = list(client.entries(info["id"]))
    assert info["mode"] == "test" and info["metadata"]["exit_code"] == 0
    stdout = [(e.get("message", ""), e.get("level")) for e in entries if e["logger"] == "stdout"]
    stderr = [(e.get("message", ""), e.get("level")) for e in entries if e["logger"] == "stderr"]
    assert stdout == [("café", None), ("bad \ufffd", None), ("", None), ("no end", None)]
    assert stderr == [("warned", "warn")]


def test_run_paces_a_command_faster_than_the_server(shared: ServerProcess) -> None:
    flood = "import sys; sys.stdout.writelines(f'flood {i}\\n' for i in range(120_000))"
    result = sessions(
        "run", "--app", "flood", "--url", shared.url, "--", sys.executable, "-c", flood
    )
    assert result.returncode == 0 and result.stdout.count("\n") == 120_000
    with SessionClient(shared.url) as client:
        (info,) = client.list("all", appname="flood")["sessions"]
    # more than the buffer holds (100,000 lines), yet none dropped
    assert info["log_count"] == 120_001


def test_run_without_a_server_still_runs_the_command(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    result = sessions("run", "--url", url, "--", sys.executable, "-c", FAILING)
    assert result.returncode == 3 and time.monotonic() - started < 15
    assert result.stdout == "out\n"
    assert result.stderr.startswith("err\n")
    assert f"log records not delivered: {url} unreachable" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_reports_a_missing_command(shared: ServerProcess) -> None:
    missing = sessions("run", "--url", shared.url, "--", "no-such-command-anywhere")
    nothing = sessions("run", "--url", shared.url)
    assert missing.returncode == 127 and "no-such-command-anywhere" in missing.stderr
    assert nothing.returncode == 2 and "no command given" in nothing.stderr


# --- tokens and the README ------------------------------------------------------------------


def test_token_is_sent_over_http_and_websocket(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "sessions.db", "--token", "s3cret").start()
    try:
        with SessionClient(server.url, token="s3cret") as client:
            client.register(SID, appname="secret")
            client.log(SID, ["hidden"])
        env = {**os.environ, "SESSIONS_TOKEN": "s3cret"}
        listing = sessions("ls", "--url", server.url, env=env)
        tail = sessions("tail", SID, "--url", server.url, "--token", "s3cret")
        refused = sessions("ls", "--url", server.url, "--token", "wrong")
        assert listing.returncode == tail.returncode == 0
        assert SID in listing.stdout and tail.stdout.endswith(" hidden\n")
        assert refused.returncode == 1 and "token" in refused.stderr
    finally:
        server.stop()


def readme_commands() -> list[str]:
    section = README.read_text().split("## Command line", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None
    return [line for line in block.group(1).splitlines() if line.startswith("sessions ")]


def test_readme_examples_work_as_printed(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    server = ServerProcess(tmp_path / "data" / "sessions.db").start()
    try:
        with SessionClient(server.url) as client:  # the session of "Try it"
            client.register(SID, appname="cook", mode="commandlet")
            client.log(SID, [{"level": "warning", "message": "Cooked 1200 packages"}])
        env = {**os.environ, "SESSIONS_URL": server.url}
        prefix = f"{sys.executable} -m service "
        outputs = {}
        for line in readme_commands():
            if "--follow" in line:  # runs until Ctrl-C; test_tail_follow_... covers it
                continue
            command = prefix + line.removeprefix("sessions ")
            result = subprocess.run(
                ["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True
            )
            assert result.returncode == 0, (line, result.stderr)
            outputs[line.split()[1] + str(len(outputs))] = result.stdout
        assert "Cooking 1200 packages" in outputs["run0"]
        assert SID in outputs["ls1"] and "Cooked 1200 packages" in outputs["tail3"]
        exported = (tmp_path / "cook.jsonl").read_text().splitlines()
        assert json.loads(exported[0])["message"] == "Cooked 1200 packages"
    finally:
        server.stop()

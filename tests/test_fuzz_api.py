"""Schemathesis against the server's own OpenAPI schema: no generated request gets a 500."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import ServerProcess


def test_no_generated_request_makes_the_server_fail(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "s.db").start()
    try:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "schemathesis.cli",
                "run",
                f"{server.url}/schema/openapi.json",
                "--checks",
                "not_a_server_error",
                "--max-examples",
                "50",
                "--seed",
                "20261204",
            ],
            cwd=tmp_path,  # schemathesis keeps a cache folder where it runs
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        server.stop()
    summary = result.stdout[-2000:]
    print(summary)
    assert result.returncode == 0, summary
    assert " passed" in summary and "failed" not in summary.split("Test cases:")[-1]

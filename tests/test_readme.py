"""The README's examples work as printed, against a real server."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from tests.conftest import ServerProcess

README = Path(__file__).resolve().parent.parent / "README.md"


def try_it_commands() -> list[str]:
    section = README.read_text().split("## Try it", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None
    return [line for line in block.group(1).splitlines() if line.startswith("curl ")]


def test_curl_examples_work_as_printed(server: ServerProcess) -> None:
    outputs = []
    for command in try_it_commands():
        command = command.replace("http://127.0.0.1:8558", server.url)
        command = command.replace("curl ", "curl -sS --fail-with-body ", 1)
        result = subprocess.run(["bash", "-c", command], capture_output=True, text=True)
        assert result.returncode == 0, (command, result.stdout, result.stderr)
        outputs.append(result.stdout)
    register, text_log, json_log, read, listing, end = outputs
    assert register == "0123456789abcdef01234567"
    assert json.loads(text_log)["count"] == 2
    assert json.loads(json_log)["count"] == 1
    page = json.loads(read)
    assert [e["message"] for e in page["entries"]] == [
        "Loading map",
        "Cooking 1200 packages",
        "Cooked 1200 packages in 41.5s",
    ]
    assert page["entries"][2]["level"] == "warn"
    assert "0123456789abcdef01234567" in listing
    assert end == "0123456789abcdef01234567"

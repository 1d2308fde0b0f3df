"""``uet run --deterministic``: the same files on a fresh database give the same bytes.

Deterministic mode fixes the clock, the ids and the retry jitter and runs tasks in waves, so
two runs of the same workstreams must print byte-identical ``uet events RUN --json`` and
``uet status RUN --json``: timestamps, attempt ids, sequence numbers and output included.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from tests.cli.conftest import Result, Uet
from uet.cli import main

# Only deterministic commands: echo, true, false (with retries), a fan-out and a fan-in.
_WORKSTREAM = """
id: det
defaults: {retries: 0, retry_delay: 0}
tasks:
  - {id: root, run: 'echo root; echo "second line"'}
  - {id: fan-a, argv: [echo, a], depends_on: [root]}
  - {id: fan-b, run: 'echo b >&2; echo b-out', depends_on: [root]}
  - {id: fan-c, argv: ["true"], depends_on: [root]}
  - {id: fan-d, run: 'for i in 1 2 3; do echo "d$i"; done', depends_on: [root]}
  - id: flaky-forever
    argv: ["false"]
    retries: 2
    retry_delay: 5
    on_failure: continue
    depends_on: [root]
  - {id: broken, run: exit 3, depends_on: [root]}
  - {id: after-broken, run: echo never, depends_on: [broken]}
  - id: join
    run: echo joined
    depends_on: [fan-a, fan-b, fan-c, fan-d, flaky-forever]
"""

_UPSTREAM = """
id: upstream
tasks:
  - {id: prepare, argv: [echo, prepared]}
"""


@pytest.fixture
def uet(capsys: pytest.CaptureFixture[str]) -> Uet:
    """The real command line, in-process, in the current folder."""

    def run(*args: str) -> Result:
        code = main(list(args))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


def _project(base: Path, name: str, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A fresh project folder (so a fresh database), made the working directory, holding
    the workstream files; returns their paths as given on the command line."""
    folder = base / name
    (folder / "workstreams").mkdir(parents=True)
    (folder / "workstreams" / "det.yaml").write_text(
        textwrap.dedent(_WORKSTREAM).lstrip() + "depends_on: [upstream]\n", encoding="utf-8"
    )
    (folder / "workstreams" / "upstream.yaml").write_text(
        textwrap.dedent(_UPSTREAM).lstrip(), encoding="utf-8"
    )
    monkeypatch.chdir(folder)
    return ["workstreams/det.yaml", "workstreams/upstream.yaml"]


def _run_once(uet: Uet, files: list[str]) -> tuple[str, str]:
    """A deterministic run in the current project; its event log and status as JSON text."""
    result = uet("run", "--deterministic", "-j", "3", *files)
    assert result.code == 1, result.err  # `broken` fails the run: exit 1
    assert "run-000001" in result.out
    events = uet("events", "run-000001", "--json")
    status = uet("status", "run-000001", "--json")
    assert events.code == 0, events.err
    assert status.code == 0, status.err
    return events.out, status.out


def test_two_deterministic_runs_print_identical_events_and_status(
    uet: Uet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Byte-identical `uet events --json` and `uet status --json` across two runs of the
    same files on fresh databases, for a DAG with fan-out, fan-in, output on both streams,
    retries with a (seeded) backoff, a failure with skipped dependents and a workstream
    dependency."""
    files = _project(tmp_path, "first", monkeypatch)
    first_events, first_status = _run_once(uet, files)
    files = _project(tmp_path, "second", monkeypatch)
    second_events, second_status = _run_once(uet, files)
    assert second_events == first_events
    assert second_status == first_status

    # The log is the real one, not two empty or trivially equal outputs.
    events = [json.loads(line) for line in first_events.splitlines()]
    types = [event["type"] for event in events]
    assert types[0] == "run.created"
    assert types[-1] == "run.failed"
    assert types.count("task.retrying") == 2
    assert {e["payload"]["delay"] for e in events if e["type"] == "task.retrying"} != {0}
    assert "task.skipped" in types
    output = [line for e in events if e["type"] == "task.output" for line in e["payload"]["lines"]]
    assert {"root", "second line", "b", "b-out", "d1", "d2", "d3", "joined"} <= set(output)
    statuses = {t["id"]: t["status"] for t in json.loads(first_status)["tasks"]}
    assert statuses["det/join"] == "succeeded"
    assert statuses["det/after-broken"] == "skipped"
    assert statuses["det/flaky-forever"] == "failed"


def test_deterministic_runs_order_ties_by_key_not_by_file_order(
    uet: Uet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same workstreams named in the other order on the command line give the same
    event log: ties are ordered by id, not by the order files were given."""
    files = _project(tmp_path, "forward", monkeypatch)
    forward, _ = _run_once(uet, files)
    files = _project(tmp_path, "backward", monkeypatch)
    backward, _ = _run_once(uet, list(reversed(files)))
    assert backward == forward

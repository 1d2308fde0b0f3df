"""The event catalog is the one list of events: the docs page is generated from it, every
event name in uet's source is in it, and every event real runs write matches it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from uet.cli import main
from uet.events.catalog import BY_NAME, CATALOG, markdown, names, problems
from uet.state.store import Store

ROOT = Path(__file__).resolve().parents[2]
EVENT_LITERAL = re.compile(r"""["'](run|task|route|breaker|agent)\.([a-z_]+)["']""")
NOT_EVENTS = {"agent.json", "task.json"}  # file names that look like event names


def test_docs_events_md_is_generated_from_the_catalog() -> None:
    page = (ROOT / "docs" / "events.md").read_text(encoding="utf-8")
    assert page == markdown(), "run: python -m uet.events.catalog > docs/events.md"


def test_every_event_name_in_the_source_is_in_the_catalog() -> None:
    found: dict[str, str] = {}
    for path in sorted((ROOT / "src" / "uet").rglob("*.py")):
        if path.name == "catalog.py":
            continue
        for match in EVENT_LITERAL.finditer(path.read_text(encoding="utf-8")):
            name = f"{match[1]}.{match[2]}"
            if name not in NOT_EVENTS:
                found.setdefault(name, str(path.relative_to(ROOT)))
    missing = {name: where for name, where in found.items() if name not in BY_NAME}
    assert not missing, f"events emitted but not in uet.events.catalog: {missing}"
    assert len(found) >= 20  # the scan sees the engine's events (it would pass on none)


def test_catalog_names_are_unique_and_globbable() -> None:
    assert len(BY_NAME) == len(CATALOG)
    assert {"task.failed", "run.failed"} <= set(names("*.failed"))
    assert problems("task.nonsense", {}, run_id="r", task_id="t") == [
        "task.nonsense: not in the event catalog"
    ]
    wrong = problems("task.completed", {"attempt": True}, run_id="r", task_id=None)
    assert "task.completed: no task id" in wrong
    assert "task.completed: 'attempt' is a bool, not int" in wrong
    assert "task.completed: payload lacks 'outcome'" in wrong


WORKLOAD = """
id: mix
defaults: {retry_delay: 0}
tasks:
  - {id: ok, run: "echo hello"}
  - {id: flaky, run: "test -e marker || { touch marker; exit 3; }", retries: 1}
  - {id: broken, run: "echo bad >&2; exit 1"}
  - {id: after-broken, run: "true", depends_on: [broken]}
  - {id: slow, run: "sleep 5", timeout: 0.3}
  - {id: missing, argv: [no-such-program-uet]}
"""

ABORTING = """
id: stop
tasks:
  - {id: fails, run: "exit 1", on_failure: abort}
  - {id: later, run: "true", depends_on: [fails]}
"""


@pytest.mark.parametrize("text", [WORKLOAD, ABORTING], ids=["mixed", "abort"])
def test_every_event_of_a_real_run_matches_the_catalog(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], text: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "uet.toml").write_text("", encoding="utf-8")
    (tmp_path / "ws.yaml").write_text(text, encoding="utf-8")
    code = main(["run", "ws.yaml", "--run-id", "cat-1", "-j", "4"])
    capsys.readouterr()
    assert code == 1  # some tasks fail on purpose
    store = Store.open(f"sqlite:///{tmp_path / '.uet' / 'state.db'}")
    with store.reader() as tx:
        events = tx.get_events("cat-1")
    store.close()
    seen = {e.type for e in events}
    assert {"run.created", "run.started", "task.started", "task.failed"} <= seen
    found = [
        p for e in events for p in problems(e.type, e.payload, run_id=e.run_id, task_id=e.task_id)
    ]
    assert not found, found

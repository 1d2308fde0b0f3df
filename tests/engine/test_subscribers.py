"""Subscribers of a run's bus see the engine's own events, in order, after they commit."""

from __future__ import annotations

from pathlib import Path

from uet.config import load_settings
from uet.engine.api import start_run
from uet.engine.model import RunOptions
from uet.events.bus import EventBus
from uet.spec import load_files
from uet.state.records import EventRecord
from uet.state.store import Store


def test_subscribers_see_state_changes_and_output_in_sequence(tmp_path: Path) -> None:
    """task.* events written in the engine's tick transactions and task.output written by
    the bus both reach a subscriber, each run's sequence numbers strictly increasing."""
    (tmp_path / "ws.yaml").write_text(
        "id: ws\ntasks:\n  - {id: a, run: echo one}\n  - {id: b, run: 'false', depends_on: [a]}\n"
    )
    settings = load_settings(cwd=tmp_path, env={})
    store = Store.open(settings)
    seen: list[EventRecord] = []
    with EventBus(store) as bus:
        bus.subscribe("*", seen.append)
        result = start_run(
            load_files([tmp_path / "ws.yaml"]),
            settings=settings,
            store=store,
            options=RunOptions(concurrency=2),
            bus=bus,
        )
        bus.flush()
    types = [(e.type, e.task_id) for e in seen]
    assert ("task.output", "ws/a") in types
    assert types.index(("task.output", "ws/a")) < types.index(("task.completed", "ws/a"))
    assert ("task.failed", "ws/b") in types
    assert types[-1] == ("run.failed", None)
    seqs = [e.seq for e in seen if e.run_id == result.run_id]
    assert seqs == sorted(seqs)
    with store.reader() as tx:
        assert len(seqs) == tx.count_events(result.run_id)

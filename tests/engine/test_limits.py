"""`-j` caps the processes running at once, although the engine hands jobs out ahead."""

from __future__ import annotations

from pathlib import Path

from uet.config import load_settings
from uet.engine.api import start_run
from uet.engine.model import RunOptions
from uet.spec import load_files
from uet.state.store import Store


def test_no_more_than_concurrency_processes_at_once(tmp_path: Path) -> None:
    """Eight 0.2 s tasks at -j 2: every task records its start and end; at no moment do
    more than two overlap, although the scheduler dispatches ahead into the executor."""
    marks = tmp_path / "marks"
    marks.mkdir()
    tasks = "\n".join(
        f"  - {{id: t{n}, run: 'date +%s.%N > {marks}/t{n}.start; sleep 0.2; "
        f"date +%s.%N > {marks}/t{n}.end'}}"
        for n in range(8)
    )
    (tmp_path / "ws.yaml").write_text(f"id: ws\ntasks:\n{tasks}\n")
    settings = load_settings(cwd=tmp_path, env={})
    store = Store.open(settings)
    result = start_run(
        load_files([tmp_path / "ws.yaml"]),
        settings=settings,
        store=store,
        options=RunOptions(concurrency=2),
    )
    store.close()
    assert result.exit_code == 0
    spans = [
        (float((marks / f"t{n}.start").read_text()), float((marks / f"t{n}.end").read_text()))
        for n in range(8)
    ]
    for start, _ in spans:
        running = sum(1 for s, e in spans if s <= start < e)
        assert running <= 2, spans

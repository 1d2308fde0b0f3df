"""Routing state in the store, on SQLite and PostgreSQL: write-back, restarts, kill -9,
the decision registry, and max_parallel shared by routers on one store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from uet.routing import BreakerState, Router, RoutingConfig, parse_routing
from uet.state import ledgers
from uet.state.records import DecisionRecord
from uet.state.store import Store

SECTION: dict[str, Any] = {
    "rules": [
        {
            "name": "edits",
            "match": {"kind": "code_edit"},
            "tools": ["aider", "claude", "codex"],
            "strategy": "round_robin",
            "fallback": ["gemini"],
        }
    ],
    "breaker": {"failure_threshold": 2, "cooldown": 600},
}


class ManualClock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.t = now

    def now(self) -> float:
        return self.t


def routing(**extra: Any) -> RoutingConfig:
    return parse_routing({**SECTION, **extra})


def stored_decisions(store: Store, category: str | None = None) -> list[DecisionRecord]:
    with store.reader() as tx:
        return tx.get_decisions(category=category)


def test_state_is_written_back_in_batches_not_per_decision(db_url: str) -> None:
    """25 decisions with flush_every=10: two write transactions during the run, the rest
    at close; the registry holds every decision with its candidates and reason."""
    store = Store.open(db_url)
    router = Router(routing(), store=store, deterministic=True, flush_every=10, run_id="r1")
    for n in range(25):
        router.decide("code_edit", task_id=f"t{n}")
    assert router.state.transactions == 2
    assert len(stored_decisions(store)) == 20
    router.close()
    assert router.state.transactions == 3
    rows = stored_decisions(store)
    assert len(rows) == 25
    assert [row.chosen for row in rows[:4]] == ["aider", "claude", "codex", "aider"]
    first = rows[0]
    assert (first.category, first.run_id, first.task_id) == ("routing", "r1", "t0")
    assert first.alternatives == ["aider", "claude", "codex", "gemini"]
    assert first.reason == "round_robin: aider first of 3"
    assert first.data == {"rule": "rule:edits", "strategy": "round_robin"}
    with store.reader() as tx:
        assert ledgers.load_cursors(tx) == {"rule:edits": 1}  # 25 decisions: next is claude


def test_breakers_and_cursors_survive_a_restart(db_url: str) -> None:
    """A new router on the same store continues the rotation and keeps an open breaker
    open until its cooldown ends."""
    store = Store.open(db_url)
    clock = ManualClock()
    with Router(routing(), store=store, clock=clock, deterministic=True) as router:
        assert [router.decide("code_edit").tool for _ in range(2)] == ["aider", "claude"]
        router.record_outcome("codex", ok=False)
        router.record_outcome("codex", ok=False)

    again = Router(routing(), store=Store.open(db_url), clock=clock, deterministic=True)
    assert again.breaker_state("codex") is BreakerState.OPEN
    decision = again.decide("code_edit")
    assert (decision.tool, decision.skipped) == ("aider", (("codex", "breaker open"),))
    clock.t += 600
    assert again.decide("code_edit").tool == "claude"
    probe = again.decide("code_edit")
    assert probe.tool == "codex"
    assert [t.event_type for t in probe.transitions] == ["breaker.half_open"]
    again.close()


def test_every_choice_fallback_and_transition_is_in_the_registry(db_url: str) -> None:
    """Categories routing, fallback and breaker, each with the chosen option, the
    alternatives and the reason."""
    store = Store.open(db_url)
    clock = ManualClock()
    with Router(routing(), store=store, clock=clock, deterministic=True, run_id="r1") as router:
        router.decide("code_edit", task_id="a")
        router.record_outcome("aider", ok=False, output="Error 429: rate limit", task_id="a")
        router.decide("code_edit", task_id="a", exclude=["aider"])
        router.decide("code_edit", task_id="b")
        router.decide("code_edit", task_id="c")
    kinds = [(d.category, d.task_id, d.chosen) for d in stored_decisions(store)]
    assert kinds == [
        ("routing", "a", "aider"),
        ("breaker", "a", "open"),
        ("routing", "a", "claude"),  # aider was not first in this rotation: no fallback
        ("routing", "b", "codex"),
        ("fallback", "c", "claude"),
    ]
    breaker = stored_decisions(store, "breaker")[0]
    assert breaker.reason == "quota: '429'"
    assert breaker.data["tool"] == "aider"
    fallback = stored_decisions(store, "fallback")[0]
    assert fallback.reason == "round_robin: claude after aider: breaker open"
    assert fallback.data["skipped"] == {"aider": "breaker open"}


def test_max_parallel_holds_across_two_routers_on_one_store(db_url: str) -> None:
    """Two routers (two runs) share claude's single slot through the store."""
    config = routing(max_parallel={"aider": 1})
    first = Router(config, store=Store.open(db_url), deterministic=True)
    second = Router(config, store=Store.open(db_url), deterministic=True)
    assert first.decide("code_edit").tool == "aider"
    taken = second.decide("code_edit")
    assert taken.tool == "claude"
    assert taken.skipped == (("aider", "max_parallel reached"),)
    first.record_outcome("aider", ok=True)
    second.decide("code_edit")  # codex (rotation)
    assert second.decide("code_edit").tool == "aider"  # the slot came back
    with second.state.store.reader() as tx:  # type: ignore[union-attr]
        assert ledgers.count_leases(tx) == {"aider": 1}
    second.close()
    first.close()
    with first.state.store.reader() as tx:  # type: ignore[union-attr]
        assert ledgers.count_leases(tx) == {}


CHILD = textwrap.dedent(
    """
    import sys, time
    from uet.routing import Router, parse_routing
    from uet.state.store import Store

    section = {section!r}
    store = Store.open(sys.argv[1])
    router = Router(parse_routing(section), store=store, deterministic=True, flush_every=5,
                    flush_interval=3600, run_id="crashed")
    chosen = [router.decide("code_edit").tool for _ in range(7)]
    router.record_outcome("gemini", ok=False, output="quota exceeded; retry after 3600s")
    print("opened", ",".join(chosen), flush=True)
    time.sleep(120)
    """
)


def test_an_open_breaker_and_the_rotation_survive_kill_9(db_url: str, tmp_path: Path) -> None:
    """A uet process routes 7 tasks (write-back every 5), a quota message opens gemini's
    breaker, and it is killed with SIGKILL: the open breaker, the cursor, every decision
    made before the breaker opened are in the store, and its leases are reclaimed."""
    section = {**SECTION, "max_parallel": {"codex": 1}}
    script = tmp_path / "child.py"
    script.write_text(CHILD.format(section=section), encoding="utf-8")
    argv = [sys.executable, str(script), db_url]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) as child:
        try:
            assert child.stdout is not None
            line = child.stdout.readline().split()
        finally:
            os.kill(child.pid, signal.SIGKILL)
            child.wait()
    assert line[0] == "opened"
    assert line[1] == "aider,claude,codex,aider,claude,aider,claude"  # codex: its 1 slot held
    assert child.returncode == -signal.SIGKILL

    store = Store.open(db_url)
    router = Router(parse_routing(section), store=store, deterministic=True)
    assert router.breaker_state("gemini") is BreakerState.OPEN
    assert router.state.breakers["gemini"].retry_at is not None
    assert router.state.cursors == {"rule:edits": 2}  # flushed with the open breaker
    made = [(d.category, d.chosen) for d in stored_decisions(store) if d.run_id == "crashed"]
    assert len(made) == 8
    assert made[-1] == ("breaker", "open")
    assert router.decide("code_edit").tool == "codex"  # the dead process's lease reclaimed
    router.close()


def test_the_decision_recorder_writes_in_batches(db_url: str) -> None:
    """DecisionRecorder (for any category) holds decisions until batch_size, then writes
    them in one transaction; write(tx) joins a caller's transaction; close() writes the rest."""
    store = Store.open(db_url)
    recorder = ledgers.DecisionRecorder(store, batch_size=3)

    def decision(n: int) -> DecisionRecord:
        return DecisionRecord(
            category="retry",
            chosen="retry",
            reason=f"attempt {n}",
            ts=float(n),
            task_id="t",
            alternatives=["retry", "give up"],
            data={"attempt": n},
        )

    for n in range(4):
        recorder.add(decision(n))
    assert (recorder.transactions, recorder.written, recorder.pending) == (1, 3, 1)
    with store.transaction() as tx:
        assert recorder.write(tx) == 1
    recorder.add(decision(4))
    recorder.close()
    rows = stored_decisions(store, "retry")
    assert [row.reason for row in rows] == [f"attempt {n}" for n in range(5)]
    assert rows[4].alternatives == ["retry", "give up"]
    assert rows[4].data == {"attempt": 4}

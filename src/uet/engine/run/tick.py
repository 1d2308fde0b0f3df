"""What one tick of the run loop writes: gathered as a value, written in one transaction."""

from __future__ import annotations

import time
from typing import Any

from uet import defaults
from uet.clock import Clock
from uet.execution.api import Started
from uet.state.records import DecisionRecord, TaskUpdate
from uet.state.store import NewEvent, Transaction


class Tick:
    """Everything one tick will write, gathered before its transaction."""

    __slots__ = ("clock", "decisions", "events", "run_id", "seqs", "started", "updates")

    def __init__(self, run_id: str, clock: Clock) -> None:
        self.run_id = run_id
        self.clock = clock
        self.events: list[NewEvent] = []
        self.updates: list[TaskUpdate] = []
        self.decisions: list[DecisionRecord] = []
        self.started: list[Started] = []
        self.seqs: list[int | None] = []  # of events, once written

    def event(
        self,
        type_: str,
        payload: dict[str, Any] | None = None,
        *,
        task: str | None = None,
        attempt: int | None = None,
    ) -> None:
        """An event of this run, stamped by the run's clock."""
        self.events.append((type_, self.clock.now(), self.run_id, task, attempt, payload or None))

    def write(self, tx: Transaction, heartbeat: Heartbeat) -> None:
        """Starts, task rows, decisions and events of the tick; the heartbeat when due."""
        tx.mark_started([(s.attempt_id, s.pid, s.pgid, s.at) for s in self.started])
        tx.update_tasks(self.run_id, self.updates)
        tx.record_decisions(self.decisions)
        self.seqs = tx.insert_events(self.events)
        heartbeat.beat(tx, self.run_id)


class Heartbeat:
    """The run's heartbeat: wall time even on a fixed (deterministic) clock, written at most
    every HEARTBEAT_INTERVAL_S, in the transaction of whichever tick is due."""

    __slots__ = ("_next",)

    def __init__(self) -> None:
        self._next = 0.0

    def beat(self, tx: Transaction, run_id: str) -> None:
        wall = time.time()
        if wall >= self._next:
            tx.heartbeat(run_id, wall)
            self._next = wall + defaults.HEARTBEAT_INTERVAL_S

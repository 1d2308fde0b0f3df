"""Recording fires and skips: the one way a trigger starts a run (daemon and ``uet triggers
fire`` alike).

A fire is one transaction: the ledger row (``UNIQUE(trigger_id, fire_key)``, inserted with
``ON CONFLICT DO NOTHING``), and only if it is new, the run it starts (status pending, not
yet driven: :func:`uet.engine.api.create_run`), its ``trigger.fired`` event and the
decision with its reason. A skip is a ledger row with its reason, a ``trigger.skipped``
event and a decision. A fire key already in the ledger writes nothing: ``duplicate``.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from uet import defaults
from uet.clock import Clock
from uet.config import Settings
from uet.engine.api import create_run
from uet.engine.model import RunOptions
from uet.ids import IdFactory
from uet.spec.models import Plan
from uet.spec.triggers import Overlap, TriggerSpec
from uet.state.fires import FireRecord, FireStatus, record_fire, record_fires
from uet.state.records import DecisionRecord
from uet.state.store import NewEvent, Store, Transaction

DECISION_CATEGORY = "trigger"
"""The decisions' category (``uet decisions --category trigger``)."""

CHAIN_PARAM = "trigger_chain"
"""The run's param listing the triggers whose fires led to it (the last one started it)."""


@dataclass(frozen=True, slots=True)
class Fired:
    """What became of one fire: ``fired`` (``run_id`` made), ``skipped`` (``reason``), or
    ``duplicate`` (its key was in the ledger already: nothing written)."""

    trigger_id: str
    fire_key: str
    outcome: str  # fired | skipped | duplicate
    run_id: str | None = None
    reason: str | None = None
    scheduled_for: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "trigger": self.trigger_id,
            "fire_key": self.fire_key,
            "outcome": self.outcome,
            "run_id": self.run_id,
            "reason": self.reason,
            "scheduled_for": self.scheduled_for,
        }


@dataclass(frozen=True, slots=True)
class Skip:
    """One skip to write with others (:meth:`Firing.skip_many`)."""

    spec: TriggerSpec
    key: str
    reason: str
    quiet: bool = False
    scheduled_for: float | None = None


def daemon_name() -> str:
    """``host:pid``: who fired, in the ledger."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Firing:
    """Writes fires and skips for ``store``; ``plans(spec)`` gives the plan a trigger starts
    (loaded once per trigger by the caller, so a fire costs one transaction)."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        clock: Clock,
        ids: IdFactory,
        plans: Callable[[TriggerSpec], Plan],
        by: str | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.ids = ids
        self.plans = plans
        self.by = by or daemon_name()

    def fire(
        self,
        spec: TriggerSpec,
        key: str,
        *,
        reason: str,
        scheduled_for: float | None = None,
        chain: Sequence[str] = (),
        data: Mapping[str, Any] | None = None,
    ) -> Fired:
        """Start a run of ``spec``'s target for ``key`` unless the key fired already."""
        plan = self.plans(spec)
        run_id = self.ids.new("run")
        now = self.clock.now()
        record = FireRecord(
            trigger_id=spec.id,
            fire_key=key,
            scheduled_for=scheduled_for,
            fired_at=now,
            run_id=run_id,
            status=FireStatus.FIRED,
            reason=reason,
            daemon=self.by,
        )
        params: dict[str, object] = {
            "trigger": spec.id,
            "fire_key": key,
            CHAIN_PARAM: [*chain, spec.id],
            **({"trigger_data": dict(data)} if data else {}),
        }

        def create(tx: Transaction) -> None:
            # a run that overlap: replace may stop is stopped with the trigger's grace
            grace = spec.grace if spec.overlap is Overlap.REPLACE else defaults.KILL_GRACE_S
            options = RunOptions(name=f"trigger {spec.id}", run_id=run_id, kill_grace=grace)
            create_run(
                tx,
                plan,
                run_id=run_id,
                options=options,
                settings=self.settings,
                now=now,
                params=params,
            )
            payload: dict[str, Any] = {
                "trigger": spec.id,
                "fire_key": key,
                "kind": spec.kind,
                "reason": reason,
            }
            if scheduled_for is not None:
                payload["scheduled_for"] = scheduled_for
            event: NewEvent = ("trigger.fired", now, run_id, None, None, payload)
            tx.insert_events([event])
            tx.record_decisions([self._decision(spec, key, "fire", reason, now=now, run_id=run_id)])

        with self.store.transaction() as tx:
            new = record_fire(tx, record, create)
        if not new:
            return Fired(spec.id, key, "duplicate", scheduled_for=scheduled_for)
        return Fired(spec.id, key, "fired", run_id, reason, scheduled_for)

    def skip(
        self,
        spec: TriggerSpec,
        key: str,
        *,
        reason: str,
        scheduled_for: float | None = None,
        quiet: bool = False,
    ) -> Fired:
        """Record that ``key`` does not start a run, and why (once per key); ``quiet``: no
        ``trigger.skipped`` event (the ledger row and the decision still)."""
        with self.store.transaction() as tx:
            return self.skip_in(
                tx, spec, key, reason=reason, scheduled_for=scheduled_for, quiet=quiet
            )

    def skip_in(
        self,
        tx: Transaction,
        spec: TriggerSpec,
        key: str,
        *,
        reason: str,
        scheduled_for: float | None = None,
        quiet: bool = False,
    ) -> Fired:
        """:meth:`skip` in the caller's transaction (many skips, one commit)."""
        now = self.clock.now()
        record = FireRecord(
            trigger_id=spec.id,
            fire_key=key,
            scheduled_for=scheduled_for,
            fired_at=now,
            status=FireStatus.SKIPPED,
            reason=reason,
            daemon=self.by,
        )

        def describe(tx: Transaction) -> None:
            payload: dict[str, Any] = {"trigger": spec.id, "fire_key": key, "reason": reason}
            if scheduled_for is not None:
                payload["scheduled_for"] = scheduled_for
            if not quiet:
                tx.insert_events([("trigger.skipped", now, None, None, None, payload)])
            tx.record_decisions([self._decision(spec, key, "skip", reason, now=now, run_id=None)])

        new = record_fire(tx, record, describe)
        outcome = "skipped" if new else "duplicate"
        return Fired(spec.id, key, outcome, None, reason, scheduled_for)

    def skip_many(self, tx: Transaction, skips: Sequence[Skip]) -> list[Fired]:
        """Many :meth:`skip_in` in the caller's transaction, in a few statements: the
        ledger rows together, then the events and decisions of the new ones."""
        now = self.clock.now()
        records = [
            FireRecord(
                trigger_id=s.spec.id,
                fire_key=s.key,
                scheduled_for=s.scheduled_for,
                fired_at=now,
                status=FireStatus.SKIPPED,
                reason=s.reason,
                daemon=self.by,
            )
            for s in skips
        ]
        new = record_fires(tx, records)
        events: list[NewEvent] = []
        decisions: list[DecisionRecord] = []
        out: list[Fired] = []
        for s in skips:
            if (s.spec.id, s.key) not in new:
                out.append(Fired(s.spec.id, s.key, "duplicate", None, s.reason, s.scheduled_for))
                continue
            new.discard((s.spec.id, s.key))  # a key twice in ``skips``: the first one
            payload: dict[str, Any] = {"trigger": s.spec.id, "fire_key": s.key, "reason": s.reason}
            if s.scheduled_for is not None:
                payload["scheduled_for"] = s.scheduled_for
            if not s.quiet:
                events.append(("trigger.skipped", now, None, None, None, payload))
            decisions.append(self._decision(s.spec, s.key, "skip", s.reason, now=now, run_id=None))
            out.append(Fired(s.spec.id, s.key, "skipped", None, s.reason, s.scheduled_for))
        tx.insert_events(events)
        tx.record_decisions(decisions)
        return out

    def _decision(
        self,
        spec: TriggerSpec,
        key: str,
        chosen: str,
        reason: str,
        *,
        now: float,
        run_id: str | None,
    ) -> DecisionRecord:
        return DecisionRecord(
            category=DECISION_CATEGORY,
            chosen=chosen,
            reason=reason,
            ts=now,
            run_id=run_id,
            alternatives=["fire", "skip"],
            data={
                "trigger": spec.id,
                "fire_key": key,
                "kind": spec.kind,
                "overlap": str(spec.overlap),
                "catchup": str(spec.catchup),
            },
        )

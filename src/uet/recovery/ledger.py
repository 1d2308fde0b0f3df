"""The patch ledger: each patch's state, every move a row, a ``patch.*`` event and a reason.

::

    created ──► validated ──► queued ──► applied ──► verified ──► committed
       │            │           │  (auto_merge, or a person's approval)
       ├─► apply_failed        ├─► dropped
       └─► quarantined ◄───────┘            applied/verified ──► rolled_back

=============  ==========================================================================
state          meaning
=============  ==========================================================================
created        recorded, not validated yet
validated      applied cleanly in a clone at the target's head; its checks ran (signals)
queued         routed by its confidence: ``queue`` is auto_merge, review or manual
applied        committed in its clone and handed to the merge queue
verified       the merge queue checked the (possibly rebased) result
committed      the target branch holds it (``commit``: the target's new tip)
apply_failed   it does not apply to the target's head (a conflict, a missing file)
rolled_back    the merge queue refused it; the target is untouched
quarantined    a tamper rule refused it: the manual queue, with the rule as its reason
dropped        a person (or the fixer) gave it up
=============  ==========================================================================

A patch is validated again from ``queued``, ``apply_failed``, ``rolled_back`` or
``quarantined`` (the target moved), and from ``validated`` (a validation that died before
it routed the patch). Each move is written with its ``patch_transitions``
row and its ``patch.<state>`` event in one transaction; routing choices are ``patch``
decisions with the signals and the threshold.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from uet.errors import UsageError
from uet.events.bus import EventBus
from uet.recovery.patches import Patch
from uet.state import patches as rows
from uet.state.patches import PatchRecord, TransitionRecord
from uet.state.records import DecisionRecord
from uet.state.store import NewEvent, Store, Transaction


class PatchState(enum.StrEnum):
    CREATED = "created"
    VALIDATED = "validated"
    QUEUED = "queued"
    APPLIED = "applied"
    VERIFIED = "verified"
    COMMITTED = "committed"
    APPLY_FAILED = "apply_failed"
    ROLLED_BACK = "rolled_back"
    QUARANTINED = "quarantined"
    DROPPED = "dropped"


S = PatchState
_AGAIN = (S.VALIDATED, S.APPLY_FAILED, S.QUARANTINED)  # a validation's possible ends
MOVES: Mapping[PatchState, frozenset[PatchState]] = {
    S.CREATED: frozenset({*_AGAIN, S.DROPPED}),
    S.VALIDATED: frozenset({*_AGAIN, S.QUEUED, S.DROPPED}),  # again: it died before routing
    S.QUEUED: frozenset({*_AGAIN, S.APPLIED, S.DROPPED}),
    S.APPLIED: frozenset({S.VERIFIED, S.ROLLED_BACK}),
    S.VERIFIED: frozenset({S.COMMITTED, S.ROLLED_BACK}),
    S.COMMITTED: frozenset(),
    S.APPLY_FAILED: frozenset({*_AGAIN, S.DROPPED}),
    S.ROLLED_BACK: frozenset({*_AGAIN, S.DROPPED}),
    S.QUARANTINED: frozenset({*_AGAIN, S.APPLIED, S.DROPPED}),
    S.DROPPED: frozenset(),
}
"""The moves the ledger allows (anything else is a :class:`~uet.errors.UsageError`)."""

FINAL = frozenset({S.COMMITTED, S.DROPPED})


@dataclass(frozen=True, slots=True)
class Move:
    """One move, as :meth:`PatchLedger.move` made it."""

    patch_id: str
    before: PatchState
    after: PatchState
    reason: str


class PatchLedger:
    """Patches in ``store``; events reach ``bus``'s subscribers once committed."""

    def __init__(
        self,
        store: Store,
        *,
        bus: EventBus | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.bus = bus
        self._now = now
        self._pending: list[tuple[NewEvent, int | None]] = []

    # -- reading ----------------------------------------------------------------------------

    def get(self, patch_id: str) -> PatchRecord:
        """The patch with this id (or the one id starting with it); UsageError otherwise."""
        with self.store.reader() as tx:
            found = rows.get_patch(tx, patch_id)
            if found is not None:
                return found
            like = rows.patch_ids_like(tx, patch_id) if patch_id else []
            if len(like) == 1:
                record = rows.get_patch(tx, like[0])
                if record is not None:
                    return record
        if len(like) > 1:
            raise UsageError(f"patch id {patch_id!r} is ambiguous: {', '.join(like)}")
        raise UsageError(f"no patch {patch_id!r} (see `uet patch list`)")

    def patches(
        self, *, states: Sequence[str] | None = None, queue: str | None = None, limit: int = 100
    ) -> list[PatchRecord]:
        with self.store.reader() as tx:
            return rows.list_patches(tx, states=states, queue=queue, limit=limit)

    def history(self, patch_id: str) -> list[TransitionRecord]:
        with self.store.reader() as tx:
            return rows.transitions(tx, patch_id)

    # -- writing ----------------------------------------------------------------------------

    def create(self, patch: Patch, *, repo: str, target: str) -> PatchRecord:
        """Record ``patch`` (state ``created``); UsageError when the same patch exists."""
        now = self._now()
        record = PatchRecord(
            id=patch.id,
            state=S.CREATED.value,
            repo=repo,
            target=target,
            base_commit=patch.base_commit,
            diff=patch.diff,
            created_at=now,
            updated_at=now,
            origin=patch.origin.to_json(),
            scope=patch.scope.to_json(),
            reason="recorded",
        )
        with self._changes() as tx:
            existing = rows.get_patch(tx, patch.id)
            if existing is not None:
                raise UsageError(
                    f"patch {patch.id} exists already ({existing.state}): the same diff on "
                    f"the same base commit"
                )
            rows.insert_patch(tx, record)
            rows.add_transition(tx, TransitionRecord(patch.id, now, None, S.CREATED, "recorded"))
            self._event(
                tx,
                "patch.created",
                patch.id,
                {
                    "from": None,
                    "reason": "recorded",
                    "fixer": patch.origin.fixer,
                    "findings": list(patch.origin.findings),
                    "files": list(patch.scope.files),
                },
            )
        return record

    def move(
        self,
        patch_id: str,
        to: PatchState,
        reason: str,
        *,
        data: Mapping[str, Any] | None = None,
        decision: DecisionRecord | None = None,
        **columns: Any,
    ) -> Move:
        """Move a patch to ``to`` (one transition row, one ``patch.<to>`` event, the optional
        decision, the columns given); UsageError when the ledger does not allow the move."""
        with self._changes() as tx:
            current = rows.get_patch(tx, patch_id)
            if current is None:
                raise UsageError(f"no patch {patch_id!r} (see `uet patch list`)")
            before = PatchState(current.state)
            if to not in MOVES[before]:
                raise UsageError(
                    f"patch {patch_id} is {before.value}: it cannot become {to.value} "
                    f"(from {before.value}: {', '.join(sorted(MOVES[before])) or 'nothing'})"
                )
            now = self._now()
            body = dict(data or {})
            rows.update_patch(
                tx, patch_id, state=to.value, reason=reason, updated_at=now, **columns
            )
            rows.add_transition(tx, TransitionRecord(patch_id, now, before, to, reason, body))
            payload: dict[str, Any] = {"from": before.value, "reason": reason}
            for name in ("queue", "score", "branch", "commit"):
                if name in body:
                    payload[name] = body[name]
            if "tamper" in body:
                payload["rules"] = [t["rule"] for t in body["tamper"]]
            self._event(tx, f"patch.{to.value}", patch_id, payload)
            if decision is not None:
                tx.record_decisions([decision])
        return Move(patch_id, before, to, reason)

    def decide(
        self,
        chosen: str,
        reason: str,
        *,
        alternatives: Sequence[str],
        data: Mapping[str, Any],
        run_id: str | None = None,
        task_id: str | None = None,
    ) -> DecisionRecord:
        """A ``patch`` decision, to pass to :meth:`move` (written with the move)."""
        return DecisionRecord(
            "patch", chosen, reason, self._now(), run_id, task_id, list(alternatives), dict(data)
        )

    @contextmanager
    def _changes(self) -> Iterator[Transaction]:
        pending: list[tuple[NewEvent, int | None]] = []
        self._pending = pending
        with self.store.transaction() as tx:
            yield tx
        if self.bus is not None:
            for event, seq in pending:
                self.bus.deliver_committed([event], [seq])

    def _event(self, tx: Transaction, type_: str, patch_id: str, payload: dict[str, Any]) -> None:
        event: NewEvent = (type_, self._now(), None, None, None, {"patch": patch_id, **payload})
        [seq] = tx.insert_events([event])
        self._pending.append((event, seq))

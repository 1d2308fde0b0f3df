"""The patch ledger: states and moves, one transition row and one patch.* event per move,
decisions with the move, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from uet.errors import UsageError
from uet.events import catalog
from uet.recovery.ledger import MOVES, PatchLedger, PatchState
from uet.recovery.patches import Origin, Patch
from uet.state.store import Store

DIFF = """\
--- a/src/a.py
+++ b/src/a.py
@@ -1 +1 @@
-x = 1
+x = 2
"""


@pytest.fixture
def ledger(db_url: str) -> PatchLedger:
    clock = iter(float(n) for n in range(1000, 2000))
    return PatchLedger(Store.open(db_url), now=lambda: next(clock))


def _patch(base: str = "c0ffee") -> Patch:
    return Patch.parse(DIFF, base_commit=base, origin=Origin("ruff-fix", findings=("fp1",)))


def test_the_happy_path_writes_a_row_and_an_event_per_move(ledger: PatchLedger) -> None:
    """created → validated → queued → applied → verified → committed: six transition rows
    and six patch.* events, each valid against the event catalog."""
    record = ledger.create(_patch(), repo="/r", target="main")
    for state in ("validated", "queued", "applied", "verified", "committed"):
        ledger.move(record.id, PatchState(state), f"to {state}", data={"score": 1.0})
    history = ledger.history(record.id)
    assert [(t.from_state, t.to_state) for t in history] == [
        (None, "created"),
        ("created", "validated"),
        ("validated", "queued"),
        ("queued", "applied"),
        ("applied", "verified"),
        ("verified", "committed"),
    ]
    with ledger.store.reader() as tx:
        events = tx.get_events(None, types="patch.*")
    assert [e.type for e in events] == [f"patch.{t.to_state}" for t in history]
    for event in events:
        assert catalog.problems(event.type, event.payload, run_id=None, task_id=None) == []
        assert event.payload["patch"] == record.id
    final = ledger.get(record.id)
    assert (final.state, final.reason) == ("committed", "to committed")


def test_a_move_the_ledger_does_not_allow_is_refused(ledger: PatchLedger) -> None:
    """created cannot become committed; a committed or dropped patch moves no more."""
    record = ledger.create(_patch(), repo="/r", target="main")
    with pytest.raises(UsageError, match="cannot become committed"):
        ledger.move(record.id, PatchState.COMMITTED, "skip the queue")
    ledger.move(record.id, PatchState.DROPPED, "not wanted")
    with pytest.raises(UsageError, match="is dropped"):
        ledger.move(record.id, PatchState.VALIDATED, "again")
    assert [t.to_state for t in ledger.history(record.id)] == ["created", "dropped"]


def test_every_state_is_reachable_and_final_states_are_final() -> None:
    reached = {PatchState.CREATED}
    frontier = [PatchState.CREATED]
    while frontier:
        for nxt in MOVES[frontier.pop()]:
            if nxt not in reached:
                reached.add(nxt)
                frontier.append(nxt)
    assert reached == set(PatchState)
    assert MOVES[PatchState.COMMITTED] == MOVES[PatchState.DROPPED] == frozenset()


def test_a_decision_is_written_with_its_move(ledger: PatchLedger) -> None:
    record = ledger.create(_patch(), repo="/r", target="main")
    ledger.move(record.id, PatchState.VALIDATED, "checks ran")
    decision = ledger.decide(
        "review", "score 0.85", alternatives=["auto_merge", "review", "manual"], data={"x": 1}
    )
    ledger.move(record.id, PatchState.QUEUED, "score 0.85", decision=decision, queue="review")
    with ledger.store.reader() as tx:
        [stored] = tx.get_decisions(category="patch")
    assert (stored.chosen, stored.reason, stored.data) == ("review", "score 0.85", {"x": 1})
    assert ledger.get(record.id).queue == "review"


def test_the_same_patch_twice_is_refused_and_ids_resolve_by_prefix(ledger: PatchLedger) -> None:
    one = ledger.create(_patch(), repo="/r", target="main")
    with pytest.raises(UsageError, match="exists already"):
        ledger.create(_patch(), repo="/r", target="main")
    assert ledger.get(one.id[:6]).id == one.id
    two = ledger.create(_patch("beef"), repo="/r", target="main")
    assert {p.id for p in ledger.patches()} == {one.id, two.id}
    assert [p.id for p in ledger.patches(states=["created"], limit=1)] in ([one.id], [two.id])
    with pytest.raises(UsageError, match="no patch"):
        ledger.get("pzzzz")

"""Landing a queued patch: through the merge queue (:mod:`uet.isolation.merge`), never around it.

::

    queued (auto_merge) ─┐
    queued (review, manual), quarantined ── a person's approval ─┤
                                                                 ▼
    fresh clone at the target's tip ── apply ── commit ──► applied
    merge queue: scope, content rules, rebase if the target moved, the gate (the tests
    checks, once) ──► verified ──► fast-forward ──► committed
    any refusal ──► rolled_back (the target untouched); a conflict ──► apply_failed

A review or manual patch never lands without ``approve`` (a person's name, recorded in a
``patch`` decision); an auto-merge patch lands on its own.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from uet.errors import UsageError
from uet.isolation.clones import AgentClone, AgentContext
from uet.isolation.git import Git
from uet.isolation.merge import GateResult, MergeResult, MergeStatus, merge_agent, merge_lock
from uet.recovery.confidence import Queue
from uet.recovery.ledger import PatchLedger, PatchState
from uet.recovery.policy import PatchPolicy
from uet.recovery.validate import apply_diff, check_env, patch_of, patched_clone, run_check
from uet.scope import ProtectedPaths

LANDABLE = frozenset({PatchState.QUEUED, PatchState.QUARANTINED})


@dataclass(frozen=True, slots=True)
class Landing:
    """How landing a patch ended."""

    patch_id: str
    state: PatchState  # committed | rolled_back | apply_failed
    reason: str
    commit: str | None = None  # the target's tip after (committed)
    merge: MergeResult | None = None

    @property
    def ok(self) -> bool:
        return self.state is PatchState.COMMITTED

    def to_json(self) -> dict[str, object]:
        return {
            "patch": self.patch_id,
            "state": self.state.value,
            "reason": self.reason,
            "commit": self.commit,
            "merge_code": None if self.merge is None else self.merge.code,
        }


def land(
    ledger: PatchLedger,
    patch_id: str,
    *,
    policy: PatchPolicy,
    home: Path,
    approve: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Landing:
    """Merge a queued patch into its target (see the module docstring)."""
    record = ledger.get(patch_id)
    state = PatchState(record.state)
    if state not in LANDABLE:
        raise UsageError(
            f"patch {record.id} is {state.value}: only a queued or quarantined patch lands "
            f"(`uet patch validate {record.id}` first)"
        )
    queue = Queue(record.queue) if record.queue else Queue.MANUAL
    if (queue is not Queue.AUTO_MERGE or state is PatchState.QUARANTINED) and not approve:
        raise UsageError(
            f"patch {record.id} is in the {queue.value} queue ({record.reason}): a person "
            f"approves it with `uet patch apply {record.id} --approve NAME`"
        )
    patch = patch_of(record)
    policy = policy.for_patch(patch.scope.files, patch.origin.category)
    with patched_clone(record, home, "land") as clone:
        problem = apply_diff(clone, record.diff)
        if problem is not None:
            reason = f"does not apply to {record.target}'s tip any more: {problem}"
            ledger.move(record.id, PatchState.APPLY_FAILED, reason)
            return Landing(record.id, PatchState.APPLY_FAILED, reason)
        commit = clone.commit(list(patch.scope.files), f"uet patch {record.id}\n\n{record.reason}")
        how = f"approved by {approve}" if approve else f"auto-merge ({record.reason})"
        decision = ledger.decide(
            "land",
            how,
            alternatives=["land", "wait"],
            data={"patch": record.id, "queue": queue.value, "approved_by": approve},
        )
        ledger.move(
            record.id,
            PatchState.APPLIED,
            f"committed in its clone ({how})",
            data={"commit": commit},
            decision=decision,
            commit=commit,
        )
        result = _merge(clone, policy, home, env)
    return _settle(ledger, record.id, result)


def _merge(
    clone: AgentClone, policy: PatchPolicy, home: Path, env: Mapping[str, str] | None
) -> MergeResult:
    base = Git(Path(clone.context.repo))
    tests = [spec for spec in policy.checks if spec.kind == "tests"]
    environment = check_env(home, env)

    def gate(checkout: Path, _context: AgentContext) -> GateResult:
        started = time.monotonic()
        for spec in tests:
            signal = run_check(spec, checkout, [], environment)
            if signal.value < 1.0:
                code = signal.exit_codes[-1] if signal.exit_codes else None
                return GateResult(
                    spec.name,
                    False,
                    code,
                    time.monotonic() - started,
                    signal.output_tail,
                    signal.detail,
                )
        return GateResult(" + ".join(s.name for s in tests), True, 0, time.monotonic() - started)

    workdir = Path(home) / "patches" / "gates"
    with merge_lock(base):
        return merge_agent(
            clone,
            base,
            gate=gate if tests else None,
            workdir=workdir,
            protected=ProtectedPaths(policy.protected_paths),
        )


def _settle(ledger: PatchLedger, patch_id: str, result: MergeResult) -> Landing:
    if result.status is MergeStatus.REFUSED:
        reason = f"the merge queue refused it ({result.code}): {result.reason}"
        ledger.move(patch_id, PatchState.ROLLED_BACK, reason, data={"code": result.code})
        return Landing(patch_id, PatchState.ROLLED_BACK, reason, merge=result)
    gate = "no gate" if result.gate is None else f"gate {result.gate.command} passed"
    rebased = "rebased onto the target's tip, " if result.rebased else ""
    ledger.move(patch_id, PatchState.VERIFIED, f"{rebased}scope and content rules held, {gate}")
    ledger.move(
        patch_id,
        PatchState.COMMITTED,
        result.reason,
        data={"commit": result.after},
        commit=result.after,
    )
    return Landing(patch_id, PatchState.COMMITTED, result.reason, result.after, result)

"""Confidence: validation signals to one score in [0, 1], and the score to a queue.

A :class:`Signal` is what one check said (passed, failed, timed out, flaky…). Each kind of
signal (tests, lint, types, security, coverage) is worth its weight; a kind is worth what its
worst signal says (1 passed or not applicable, 0 otherwise), and the weights are normalised
over the kinds that were measured, so that a project without a coverage check is not held
below every threshold::

    score = sum(weight[k] * value[k] for k measured) / sum(weight[k] for k measured)

:func:`route` turns the score into a queue with the policy's thresholds: ``auto_merge``
(≥ ``auto_merge``, through the merge queue), ``review`` (≥ ``review``, a branch
``uet/fix/<id>``), else ``manual``. A patch touching ``require_tests_for_paths`` without a
passing tests signal goes to ``manual`` whatever its score.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from uet.recovery.policy import PatchPolicy
from uet.scope import FileScope


class SignalStatus(enum.StrEnum):
    PASSED = "passed"
    NOT_APPLICABLE = "not_applicable"  # nothing for it to check (no changed Python file)
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    FLAKY = "flaky"  # runs of one check disagreed
    MISSING = "missing"  # its program is not installed
    ERROR = "error"  # it could not run

    @property
    def value_of(self) -> float:
        return 1.0 if self in (SignalStatus.PASSED, SignalStatus.NOT_APPLICABLE) else 0.0


class Queue(enum.StrEnum):
    AUTO_MERGE = "auto_merge"
    REVIEW = "review"
    MANUAL = "manual"


@dataclass(frozen=True, slots=True)
class Signal:
    """What one check said of a patch."""

    name: str  # the check's name (tests, ruff…)
    kind: str  # tests | lint | types | security | coverage
    status: SignalStatus
    duration: float = 0.0
    detail: str = ""
    exit_codes: tuple[int | None, ...] = ()
    output_tail: str = ""

    @property
    def value(self) -> float:
        return self.status.value_of

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "status": self.status.value,
            "value": self.value,
            "duration": round(self.duration, 3),
            "detail": self.detail,
            "exit_codes": list(self.exit_codes),
            "output_tail": self.output_tail[-2000:],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Signal:
        return cls(
            name=str(data["name"]),
            kind=str(data["kind"]),
            status=SignalStatus(data["status"]),
            duration=float(data.get("duration") or 0.0),
            detail=str(data.get("detail") or ""),
            exit_codes=tuple(data.get("exit_codes") or ()),
            output_tail=str(data.get("output_tail") or ""),
        )


@dataclass(frozen=True, slots=True)
class Route:
    """Where a validated patch goes, and why (recorded as a ``patch`` decision)."""

    queue: Queue
    score: float
    threshold: float | None  # the threshold it reached (None: manual)
    reason: str
    kinds: Mapping[str, float] = field(default_factory=dict)  # each kind's value
    weights: Mapping[str, float] = field(default_factory=dict)  # normalised, measured kinds

    def to_json(self) -> dict[str, Any]:
        return {
            "queue": self.queue.value,
            "score": round(self.score, 4),
            "threshold": self.threshold,
            "reason": self.reason,
            "kinds": dict(self.kinds),
            "weights": {k: round(v, 4) for k, v in self.weights.items()},
        }


def kind_values(signals: Sequence[Signal]) -> dict[str, float]:
    """Each measured kind's value: its worst signal's."""
    values: dict[str, float] = {}
    for signal in signals:
        values[signal.kind] = min(values.get(signal.kind, 1.0), signal.value)
    return values


def score(
    signals: Sequence[Signal], weights: Mapping[str, float]
) -> tuple[float, dict[str, float]]:
    """(the score, the normalised weights of the measured kinds); 0 when nothing was measured."""
    values = kind_values(signals)
    measured = {kind: weights.get(kind, 0.0) for kind in values if weights.get(kind, 0.0) > 0}
    total = sum(measured.values())
    if total <= 0:
        return 0.0, {}
    normalised = {kind: weight / total for kind, weight in measured.items()}
    total_score = sum(normalised[k] * values[k] for k in normalised)
    return round(total_score, 9), normalised  # 0.8 stays 0.8 against a threshold of 0.8


def route(signals: Sequence[Signal], policy: PatchPolicy, files: Sequence[str]) -> Route:
    """The queue for a patch with these signals (see the module docstring)."""
    value, weights = score(signals, policy.weights)
    kinds = kind_values(signals)
    failing = [f"{s.name} {s.status.value}" for s in signals if s.value < 1.0]
    why = f"score {value:.3f} from {', '.join(f'{k}={v:g}' for k, v in kinds.items()) or 'nothing'}"
    if failing:
        why += f"; {', '.join(failing)}"
    needs_tests = policy.require_tests_for_paths and any(
        FileScope(policy.require_tests_for_paths).allows(path) for path in files
    )
    if needs_tests and kinds.get("tests") != 1.0:
        return Route(
            Queue.MANUAL,
            value,
            None,
            f"{why}; require_tests_for_paths: no passing tests signal",
            kinds,
            weights,
        )
    if value >= policy.auto_merge:
        return Route(
            Queue.AUTO_MERGE,
            value,
            policy.auto_merge,
            f"{why} >= {policy.auto_merge}",
            kinds,
            weights,
        )
    if value >= policy.review:
        return Route(
            Queue.REVIEW, value, policy.review, f"{why} >= {policy.review}", kinds, weights
        )
    return Route(Queue.MANUAL, value, None, f"{why} < review {policy.review}", kinds, weights)

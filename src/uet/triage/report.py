"""What one triage concluded (``TriageReport``), its knobs (``TriagePolicy``) and the one
item an infra storm files (``InfraItem``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from uet.triage.model import Verdict


@dataclass(frozen=True, slots=True)
class TriagePolicy:
    """The knobs of one triage (defaults: ``uet triage --help``)."""

    reruns: int = 3  # alone reruns of each failure (0: classify only)
    ordered_checks: int = 2  # reruns after the preceding tests, all must fail for OD
    storm_ratio: float = 0.8  # more than this share of the tests that ran failed: a storm
    storm_min_tests: int = 5  # ...among at least this many tests
    release_after: int = 50  # clean runs in a row that release a quarantined test
    release_days: float = 7.0  # ...or days since its last failure, with a clean run now
    rerun_limit: int = 100  # failures rerun at most (the first ones); the rest: static class


@dataclass(frozen=True, slots=True)
class InfraItem:
    """The one item an infra storm files instead of a flaky label per test."""

    failing: int
    ran: int
    tests: tuple[str, ...]

    @property
    def ratio(self) -> float:
        return self.failing / self.ran if self.ran else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "class": "infra",
            "action": "alert",
            "failing": self.failing,
            "ran": self.ran,
            "ratio": round(self.ratio, 4),
            "tests": list(self.tests),
        }


@dataclass(slots=True)
class TriageReport:
    """What one triage found (``uet triage --json`` prints :meth:`to_dict`)."""

    triage_id: str
    commit: str | None
    tests: int
    verdicts: list[Verdict]
    storm: InfraItem | None = None
    quarantined: list[str] = field(default_factory=list)  # newly quarantined
    released: list[str] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)  # the rerun runs, in order

    @property
    def exit_code(self) -> int:
        """1 while a failure counts (or a storm was filed), else 0."""
        return 1 if self.storm is not None or any(v.counts for v in self.verdicts) else 0

    def counts_by_class(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for verdict in self.verdicts:
            found[verdict.failure_class.value] = found.get(verdict.failure_class.value, 0) + 1
        return dict(sorted(found.items()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "triage_id": self.triage_id,
            "commit": self.commit,
            "tests": self.tests,
            "failures": len(self.verdicts),
            "classes": self.counts_by_class(),
            "storm": None if self.storm is None else self.storm.to_dict(),
            "quarantined": self.quarantined,
            "released": self.released,
            "runs": self.runs,
            "exit_code": self.exit_code,
            "verdicts": [verdict.to_dict() for verdict in self.verdicts],
        }

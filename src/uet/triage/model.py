"""What triage reads and what it says: test results, failure classes, actions, verdicts.

A :class:`TestResult` is one ``<testcase>`` of a JUnit report (its node id, outcome, phase,
message and traceback); a :class:`Verdict` is what triage concluded about one failing test
(its class, the evidence of every rerun, the polluter of an order-dependent failure, the
action). The classes and what each one asks for::

    class            from                                              action
    ---------------  ------------------------------------------------  ----------------
    import           collection, ModuleNotFoundError / ImportError    dependency_fix
    syntax           collection, SyntaxError / IndentationError        uet_fix
    collection       collection, any other error                       recovery_task
    setup            a fixture failed (setup or teardown)              recovery_task
    assertion        AssertionError, pytest.fail                       recovery_task
    timeout          pytest-timeout, TimeoutExpired, TimeoutError      raise_timeout
    infra            connection refused/reset, DNS, disk full, OOM     alert
    flaky            passed and failed on the same commit              quarantine
    order_dependent  passes alone, fails after its polluter            fix_polluter
    unknown          none of the above                                 report
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class FailureClass(enum.StrEnum):
    """Why a test failed (the module docstring's table)."""

    IMPORT = "import"
    SYNTAX = "syntax"
    COLLECTION = "collection"
    SETUP = "setup"
    ASSERTION = "assertion"
    TIMEOUT = "timeout"
    INFRA = "infra"
    FLAKY = "flaky"
    ORDER_DEPENDENT = "order_dependent"
    UNKNOWN = "unknown"


class Action(enum.StrEnum):
    """What to do about a failure of a class (:data:`ACTIONS`)."""

    DEPENDENCY_FIX = "dependency_fix"  # a task that installs or pins the missing module
    UET_FIX = "uet_fix"  # `uet fix PATH`: mechanical fixers, then an agent
    RECOVERY_TASK = "recovery_task"  # a task for an agent, with the failure attached
    RAISE_TIMEOUT = "raise_timeout"  # raise the timeout, or report the resource use
    ALERT = "alert"  # the environment is broken: tell a human, change no test
    QUARANTINE = "quarantine"  # keep running it, stop it failing the build
    FIX_POLLUTER = "fix_polluter"  # quarantine the victim; the polluter leaks state
    REPORT = "report"  # nothing known: a human looks


ACTIONS: dict[FailureClass, Action] = {
    FailureClass.IMPORT: Action.DEPENDENCY_FIX,
    FailureClass.SYNTAX: Action.UET_FIX,
    FailureClass.COLLECTION: Action.RECOVERY_TASK,
    FailureClass.SETUP: Action.RECOVERY_TASK,
    FailureClass.ASSERTION: Action.RECOVERY_TASK,
    FailureClass.TIMEOUT: Action.RAISE_TIMEOUT,
    FailureClass.INFRA: Action.ALERT,
    FailureClass.FLAKY: Action.QUARANTINE,
    FailureClass.ORDER_DEPENDENT: Action.FIX_POLLUTER,
    FailureClass.UNKNOWN: Action.REPORT,
}
"""Each class's action (the module docstring's table)."""

TRACEBACK_MAX = 4000
"""Characters of a failure's traceback ``--json`` carries (its end: the last exception)."""

NON_DETERMINISTIC = frozenset({FailureClass.FLAKY, FailureClass.ORDER_DEPENDENT})
"""The classes a test earns by passing and failing on the same commit: quarantined."""


class Outcome(enum.StrEnum):
    """How one test ended in one run."""

    PASSED = "passed"
    FAILED = "failed"  # <failure>: the test's own check failed
    ERROR = "error"  # <error>: collection, a fixture, or an internal error
    SKIPPED = "skipped"

    @property
    def failing(self) -> bool:
        return self in (Outcome.FAILED, Outcome.ERROR)


class Phase(enum.StrEnum):
    """Where in pytest's protocol a test failed (``call`` for passes)."""

    COLLECTION = "collection"
    SETUP = "setup"
    CALL = "call"
    TEARDOWN = "teardown"


@dataclass(frozen=True, slots=True)
class TestResult:
    """One ``<testcase>``: ``test_id`` is pytest's node id (``tests/test_a.py::TestK::t[1]``)."""

    __test__ = False  # not a pytest test class, whatever its name

    test_id: str
    outcome: Outcome
    phase: Phase = Phase.CALL
    message: str = ""
    text: str = ""  # the traceback pytest wrote
    time: float = 0.0  # seconds
    position: int = 0  # its index in the report: the order tests ran in


@dataclass(frozen=True, slots=True)
class Attempt:
    """One rerun of a test through uet: its run and task, what the rerun held, its outcome."""

    kind: str  # alone | ordered | bisect | confirm
    outcome: Outcome
    run_id: str
    task_id: str
    tests: int = 1  # how many tests the rerun ran (the victim last)
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "outcome": self.outcome.value,
            "run_id": self.run_id,
            "task_id": self.task_id,
            "tests": self.tests,
            "message": self.message,
        }


@dataclass(slots=True)
class Verdict:
    """What triage concluded about one failing test."""

    result: TestResult
    static_class: FailureClass  # from the message, the last exception and the phase
    failure_class: FailureClass  # after the reruns (flaky, order_dependent) and history
    exception: str | None = None  # the traceback's last exception type
    attempts: list[Attempt] = field(default_factory=list)
    polluter: str | None = None  # the test that, run before it, makes it fail
    quarantined: bool = False  # quarantined now (it ran, its failure does not count)
    reason: str = ""

    @property
    def test_id(self) -> str:
        return self.result.test_id

    @property
    def action(self) -> Action:
        return ACTIONS[self.failure_class]

    @property
    def headline(self) -> str:
        """One line of how it failed: the traceback's last ``E`` line, else the message's."""
        lines = [line for line in self.result.text.splitlines() if line.startswith("E ")]
        if lines:
            return lines[-1][1:].strip()
        return (self.result.message.splitlines() or [""])[0]

    @property
    def counts(self) -> bool:
        """Whether this failure fails the triage (exit 1): not flaky, not quarantined."""
        return not self.quarantined and self.failure_class not in NON_DETERMINISTIC

    def to_dict(self) -> dict[str, Any]:
        return {
            "test_id": self.test_id,
            "class": self.failure_class.value,
            "static_class": self.static_class.value,
            "action": self.action.value,
            "outcome": self.result.outcome.value,
            "phase": self.result.phase.value,
            "exception": self.exception,
            "message": self.result.message,
            "headline": self.headline,
            "traceback": self.result.text[-TRACEBACK_MAX:],
            "polluter": self.polluter,
            "quarantined": self.quarantined,
            "reason": self.reason,
            "attempts": [a.to_dict() for a in self.attempts],
        }

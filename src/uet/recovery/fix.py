"""``uet fix``: scan, mechanical fixers first, agents for the rest, every change a patch.

::

    result = fix(settings, lambda: store, FixOptions(paths=("src",), max_attempts=3))

1. **Scan** (:func:`uet.recovery.scan.scan`) the paths; the findings to fix are those at
   ``min_severity`` (warning) or above — ``--diff BASE`` keeps those on lines changed since
   BASE — while every finding counts as *known*, so one left alone is never "new".
2. **Mechanical fixers** (:mod:`uet.recovery.fixers`: ruff's isort rules, ruff's safe fixes,
   ruff format), one after the other, each in a fresh agent clone at the target's tip; what
   a fixer changed is cut into patches of at most ``max_files_changed`` files and
   ``max_lines_changed`` lines (the patch policy's) and each patch goes through the ledger:
   validation in isolation (the tamper rules, the containment content rules, the findings
   check of :mod:`uet.recovery.recheck` and the policy's own checks when the project
   configured some), its route, and — for the auto-merge queue — landing through the merge
   queue. No agent is called for anything a fixer can do.
3. **Agents** for what is left, in rounds: in each, every file with findings left gets one
   attempt, a ``tool:`` task of kind ``fix`` (the router picks the tool; ``--tool`` names
   one) in a fresh agent clone at the target's tip, its prompt holding the file's findings
   and, on a retry, the previous attempt's validation failures. Each change is checked by
   the containment content rules (a refusal is a ``scope`` decision), then made a patch and
   sent through the same ledger: the changes of a round that keep to their own file are
   validated together within the policy's limits, and a batch that does not land is
   validated again file by file, so that each file's next prompt says what was wrong with
   it. Attempts are
   bounded per finding (``max_attempts``, default 3) and per run (``max_agent_calls``); a
   file whose attempts fail with the same error signature twice in the last four stops with
   a ``breaker`` decision (the originals' oscillation rule). ``budget`` seconds bound the
   whole fix: no attempt starts after it.

A patch that exists already in the ledger (the same diff on the same base: a second
``uet fix`` of an unchanged tree) is not made again, so running ``uet fix`` twice in a row
changes nothing the second time. ``dry_run`` scans and runs the fixers in a clone, and says
which patches they would make and which findings would go to an agent; it records nothing.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from uet.config import Settings
from uet.contain.paths import inside, make_dirs
from uet.contain.rules import Allowances
from uet.errors import UsageError
from uet.ids import RandomIds
from uet.isolation.clones import AgentClone, clone_state, create_clone
from uet.isolation.content import check_worktree
from uet.isolation.git import Git
from uet.project import ignore_home
from uet.recovery.checkers import load_checkers
from uet.recovery.confidence import Queue
from uet.recovery.findings import Finding, Severity
from uet.recovery.fixers import FIXERS, Fixer
from uet.recovery.landing import land
from uet.recovery.ledger import PatchLedger, PatchState
from uet.recovery.patches import Origin, Patch
from uet.recovery.policy import PatchPolicy, load_policy
from uet.recovery.recheck import Recheck, describe
from uet.recovery.scan import ScanOptions, changed_lines, on_changed_line, scan
from uet.recovery.validate import Validation, check_env, submit, validate
from uet.state.records import DecisionRecord

if TYPE_CHECKING:
    from uet.state.store import Store

FIX_WORKSTREAM = "fix"
"""The workstream id of an agent attempt's run: its task is ``fix/<file's task id>``."""

TASK_KIND = "fix"
"""The kind of the agents' tasks: the router gives them to tools that declare it."""

DEFAULT_MAX_ATTEMPTS = 3
DEFAULT_MAX_AGENT_CALLS = 200
OSCILLATION_WINDOW = 4
"""The same error signature twice in this many last attempts of a file: stop (breaker)."""

AGENT_TIMEOUT_S = 900.0

_VARYING = re.compile(r":\d+|\b\d+(?:\.\d+)?\s*s\b|\bat [0-9a-f]{7,40}\b")


@dataclass(frozen=True, slots=True)
class FixOptions:
    """``uet fix``'s options."""

    paths: tuple[str, ...] = (".",)
    cwd: Path | None = None
    diff_base: str | None = None
    max_attempts: int = DEFAULT_MAX_ATTEMPTS  # agent attempts per finding
    max_agent_calls: int = DEFAULT_MAX_AGENT_CALLS  # agent attempts per run of uet fix
    budget: float | None = None  # seconds: no attempt starts after them
    dry_run: bool = False
    tool: str = "auto"  # the agents' tool: "auto" lets the router choose
    agents: bool = True  # False: mechanical fixers only
    min_severity: Severity = Severity.WARNING  # findings below it are left alone (bandit LOW)


@dataclass(frozen=True, slots=True)
class Step:
    """One patch ``uet fix`` made (or, dry, would make), and where it went."""

    fixer: str  # ruff-isort | ruff-fix | ruff-format | agent:<tool>
    files: tuple[str, ...]
    findings: tuple[str, ...]  # fingerprints it fixes
    patch_id: str | None = None
    state: str | None = None  # the ledger state it reached (None: dry run)
    queue: str | None = None
    reason: str = ""
    landed: bool = False
    diff: str | None = None  # dry runs only
    attempt: int = 0  # agents: the file's attempt number
    again: bool = False  # the ledger had it already (``reason``: what it met then)

    def to_json(self) -> dict[str, Any]:
        return {
            "fixer": self.fixer,
            "files": list(self.files),
            "findings": list(self.findings),
            "patch": self.patch_id,
            "state": self.state,
            "queue": self.queue,
            "reason": self.reason,
            "landed": self.landed,
            "attempt": self.attempt,
            "again": self.again,
            **({"diff": self.diff} if self.diff is not None else {}),
        }


@dataclass
class FixResult:
    """What ``uet fix`` did."""

    root: Path
    target: str
    before: tuple[Finding, ...]  # the findings to fix, as scanned
    after: tuple[Finding, ...] = ()  # those of them still there (and any new one)
    steps: list[Step] = field(default_factory=list)
    agent_calls: int = 0
    stopped: list[dict[str, Any]] = field(default_factory=list)  # files given up, and why
    notes: list[str] = field(default_factory=list)
    dry_run: bool = False
    duration: float = 0.0

    @property
    def fixed(self) -> int:
        left = {f.fingerprint for f in self.after}
        return sum(f.fingerprint not in left for f in self.before)

    def exit_code(self) -> int:
        """0: nothing left to fix; 1: findings remain."""
        return 1 if self.after else 0

    def to_json(self) -> dict[str, Any]:
        return {
            "root": str(self.root),
            "target": self.target,
            "dry_run": self.dry_run,
            "findings": len(self.before),
            "fixed": self.fixed,
            "remaining": [f.to_dict() for f in self.after],
            "patches": [s.to_json() for s in self.steps],
            "landed": sum(s.landed for s in self.steps),
            "agent_calls": self.agent_calls,
            "stopped": self.stopped,
            "notes": self.notes,
            "duration": round(self.duration, 3),
        }


@dataclass
class _FileState:
    """An agent's attempts at one file so far."""

    failure: str | None = None  # the last attempt's, for the next prompt
    signatures: list[str] = field(default_factory=list)
    done: bool = False


@dataclass(frozen=True, slots=True)
class _Work:
    """An agent attempt's change, not yet sent."""

    path: str
    diff: str
    base: str
    origin: Origin
    number: int
    changed: tuple[str, ...]


def _batches(works: Sequence[_Work], policy: PatchPolicy) -> list[list[_Work]]:
    """``works`` in groups on one base within the policy's file and line limits."""
    groups: list[list[_Work]] = []
    lines = 0
    for work in sorted(works, key=lambda w: (w.base, w.path)):
        size = sum(1 for line in work.diff.splitlines()
                   if line[:1] in "+-" and not line.startswith(("+++", "---")))  # fmt: skip
        current = groups[-1] if groups else None
        if (current is None or current[0].base != work.base
                or len(current) >= policy.max_files_changed
                or lines + size > policy.max_lines_changed):  # fmt: skip
            groups.append([work])
            lines = size
        else:
            current.append(work)
            lines += size
    return groups


def _joined(batch: Sequence[_Work]) -> Origin:
    """One origin for a batch of agent changes."""
    first = batch[0].origin
    categories = [w.origin.category for w in batch if w.origin.category]
    return Origin(
        fixer=first.fixer,
        tool=first.tool,
        findings=tuple(fp for w in batch for fp in w.origin.findings),
        files=tuple(w.path for w in batch),
        category=categories[0] if len(set(categories)) == 1 else None,
        task_id=first.task_id,
    )


class _Budget:
    def __init__(self, seconds: float | None) -> None:
        self.deadline = None if seconds is None else time.monotonic() + seconds

    @property
    def spent(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline


def fix(
    settings: Settings,
    store: Callable[[], Store],
    options: FixOptions,
    *,
    interrupted: threading.Event | None = None,
) -> FixResult:
    """Fix the findings of ``options.paths`` (see the module docstring)."""
    started = time.monotonic()
    if options.max_attempts < 1 or options.max_agent_calls < 0:
        raise UsageError("--max-attempts should be at least 1 (and --max-agent-calls >= 0)")
    root = settings.root.resolve()
    target = _target(root)
    scanned = scan(settings, store, ScanOptions(paths=options.paths, cwd=options.cwd),
                   interrupted=interrupted)  # fmt: skip
    known = list(scanned.findings)
    todo = [f for f in _to_fix(root, known, options.diff_base)
            if f.severity.rank >= options.min_severity.rank]  # fmt: skip
    result = FixResult(root, target, tuple(todo), dry_run=options.dry_run)
    for report in scanned.reports:
        if report.reason:
            result.notes.append(f"{report.name} {report.status.value}: {report.reason}")
    loop = _Loop(settings, store, options, result, known, target, interrupted)
    loop.mechanical()
    if options.agents and not options.dry_run:
        loop.agents()
    elif options.agents:
        loop.would_call_agents()
    result.after = tuple(loop.remaining())
    result.duration = time.monotonic() - started
    return result


def _target(root: Path) -> str:
    git = Git(root)
    found = git.run("symbolic-ref", "--quiet", "--short", "HEAD", check=False)
    if not found.ok:
        raise UsageError(f"{root}: HEAD is detached; check out the branch to fix")
    state = clone_state(git)
    if state.dirty:
        listed = ", ".join(sorted({*state.staged, *state.modified})[:5])
        raise UsageError(
            f"{root}: uncommitted changes ({listed}): commit or stash them first, since the "
            f"fixes land on {found.stdout.strip()} through the merge queue"
        )
    return found.stdout.strip()


def _to_fix(root: Path, known: Sequence[Finding], diff_base: str | None) -> list[Finding]:
    if diff_base is None:
        return list(known)
    changed = changed_lines(root, diff_base)
    return [f for f in known if on_changed_line(f, changed)]


def _relative(root: Path, options: FixOptions) -> tuple[str, ...]:
    cwd = (options.cwd or Path.cwd()).resolve()
    out = []
    for given in options.paths or (".",):
        path = (cwd / given).resolve()
        out.append(path.relative_to(root).as_posix() if path.is_relative_to(root) else ".")
    return tuple(out)


class _Loop:
    """One ``uet fix``: its ledger, policy, the findings as they are now."""

    def __init__(  # noqa: PLR0917 - the loop's parts, given once
        self,
        settings: Settings,
        store: Callable[[], Store],
        options: FixOptions,
        result: FixResult,
        known: list[Finding],
        target: str,
        interrupted: threading.Event | None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.options = options
        self.result = result
        self.known = known
        self.wanted = {f.fingerprint for f in result.before}
        self.target = target
        self.interrupted = interrupted
        self.root = result.root
        self.home = Path(settings.home).absolute()
        self.policy = fix_policy(settings)
        self.checkers = load_checkers(settings)
        self.paths = _relative(self.root, options)
        self.env = check_env(self.home)
        self.budget = _Budget(options.budget)
        self.ids = RandomIds()

    # -- the findings -----------------------------------------------------------------------

    def remaining(self) -> list[Finding]:
        """The findings still to fix (those wanted that are still known, by fingerprint)."""
        return [f for f in self.known if f.fingerprint in self.wanted]

    def _stop(self) -> bool:
        return self.budget.spent or bool(self.interrupted and self.interrupted.is_set())

    # -- mechanical fixers --------------------------------------------------------------------

    def mechanical(self) -> None:
        for fixer in FIXERS:
            if self._stop():
                self.result.notes.append(f"{fixer.name} not run: the budget is spent")
                return
            python = _python_files(self.root, self.paths)
            if fixer.name == "ruff-format" and self.options.diff_base is not None:
                python = sorted({f.path for f in self.remaining() if f.path.endswith(".py")})
            files = fixer.files(self.remaining(), python)
            if files:
                self._run_fixer(fixer, files)

    def _run_fixer(self, fixer: Fixer, files: list[str]) -> None:
        with self._clone(fixer.name, files) as clone:
            problem = fixer.run(clone.path, files, self.env)
            if problem is not None:
                self.result.notes.append(problem)
                return
            changed = clone.state().changed
            chunks = _chunks(clone, changed, self.policy)
            diffs = [(chunk, clone.diff(chunk)) for chunk in chunks]
            base = clone.context.base_commit
        for chunk, diff in diffs:
            if self._stop():
                self.result.notes.append(f"{fixer.name}: the budget is spent")
                return
            targeted = tuple(f.fingerprint for f in self.remaining()
                             if f.path in chunk and fixer.fixes(f))  # fmt: skip
            origin = Origin(fixer=fixer.name, tool="ruff", findings=targeted, files=tuple(chunk),
                            category=fixer.category)  # fmt: skip
            self._send(fixer.name, diff, base, origin)

    # -- agents -----------------------------------------------------------------------------

    def would_call_agents(self) -> None:
        by_file = _by_file(self.remaining())
        for path, found in by_file.items():
            self.result.steps.append(Step("agent", (path,), tuple(f.fingerprint for f in found),
                                          reason="would go to an agent (dry run)"))  # fmt: skip

    def agents(self) -> None:
        if not self.remaining():
            return
        why = _no_agent(self.settings, self.options.tool)
        if why is not None:
            self.result.notes.append(why)
            return
        attempts: dict[str, int] = {}
        files = {path: _FileState() for path in _by_file(self.remaining())}
        while True:
            planned = self._plan_round(files, attempts)
            if not planned:
                return
            works: list[Step | _Work] = []
            stop = False
            for path, found, number in planned:
                if self._stop():
                    self.result.notes.append("agents: the budget is spent")
                    stop = True
                    break
                if self.result.agent_calls >= self.options.max_agent_calls:
                    self.result.notes.append(
                        f"agents: {self.options.max_agent_calls} agent calls, the most per run"
                    )
                    stop = True
                    break
                for finding in found:
                    attempts[finding.fingerprint] = attempts.get(finding.fingerprint, 0) + 1
                works.append(self._work(path, found, files[path].failure, number))
            for path, step in self._send_works(works).items():
                self._settle(path, files[path], step)
            if stop:
                return

    def _plan_round(
        self, files: dict[str, _FileState], attempts: Mapping[str, int]
    ) -> list[tuple[str, list[Finding], int]]:
        """The files to try this round: (path, its findings, the attempt's number)."""
        planned = []
        for path, state in files.items():
            found = [f for f in self.remaining() if f.path == path]
            if state.done or not found:
                state.done = True
                continue
            tried = max(attempts.get(f.fingerprint, 0) for f in found)
            if tried >= self.options.max_attempts:
                self._give_up(path, f"{tried} attempts (--max-attempts)", "attempts")
                state.done = True
                continue
            planned.append((path, found, tried + 1))
        return planned

    def _settle(self, path: str, state: _FileState, step: Step) -> None:
        """What one attempt on ``path`` means for the next (see the module docstring)."""
        if step.landed:
            state.failure = None
            return
        if step.state == PatchState.QUEUED.value and step.queue in (
            Queue.REVIEW.value,
            Queue.MANUAL.value,
        ):
            self._give_up(path, f"patch {step.patch_id} waits in the {step.queue} queue for "
                          "a person", "queued")  # fmt: skip
            state.done = True
            return
        state.failure = step.reason
        state.signatures.append(error_signature(step.reason))
        if _oscillates(state.signatures):
            self._breaker(path, state.signatures, step)
            state.done = True

    def _work(
        self, path: str, found: list[Finding], failure: str | None, number: int
    ) -> Step | _Work:
        """One agent attempt on ``path``: its change, or the step saying why there is none."""
        fps = tuple(f.fingerprint for f in found)
        with self._clone("agent", [path]) as clone:
            run_id, tool, problem = self._run_agent(clone, path, found, failure, number)
            self.result.agent_calls += 1
            changed = clone.state().changed if problem is None else []
            if problem is None and not changed:
                problem = f"{tool or 'the agent'} changed nothing"
            if problem is None:
                problem = self._contained(clone, changed, run_id, path)
            if problem is not None:
                step = Step(f"agent:{tool or '?'}", (path,), fps, reason=problem, attempt=number)
                self.result.steps.append(step)
                return step
            diff = clone.diff(changed)
            base = clone.context.base_commit
        category = max(found, key=lambda f: f.severity.rank).category.value
        origin = Origin(fixer=f"agent:{tool}", tool=tool, findings=fps, files=(path,),
                        category=category, run_id=run_id,
                        task_id=f"{FIX_WORKSTREAM}/agent")  # fmt: skip
        return _Work(path, diff, base, origin, number, tuple(changed))

    def _send_works(self, works: Sequence[Step | _Work]) -> dict[str, Step]:
        """Each attempt's step, by file. Changes that keep to their own file are validated
        together, within the policy's limits (one validation for many files); a batch that
        does not land is validated again file by file, so each file hears its own reason."""
        steps: dict[str, Step] = {}
        pending: list[_Work] = []
        for work in works:
            if isinstance(work, Step):
                steps[work.files[0]] = work
            else:
                pending.append(work)
        alone = [w for w in pending if w.changed != (w.path,)]
        batches = _batches([w for w in pending if w.changed == (w.path,)], self.policy)
        for batch in batches:
            if len(batch) > 1:
                combined = self._send(batch[0].origin.fixer, "".join(w.diff for w in batch),
                                      batch[0].base, _joined(batch))  # fmt: skip
                if combined.landed:
                    for work in batch:
                        steps[work.path] = replace(combined, files=(work.path,),
                                                   findings=work.origin.findings,
                                                   attempt=work.number)  # fmt: skip
                    continue
            alone += batch
        for work in sorted(alone, key=lambda w: w.path):
            fixer = work.origin.fixer
            steps[work.path] = self._send(fixer, work.diff, work.base, work.origin,
                                          attempt=work.number)  # fmt: skip
        return steps

    def _run_agent(
        self, clone: AgentClone, path: str, found: list[Finding], failure: str | None, number: int
    ) -> tuple[str | None, str | None, str | None]:
        """(the run, the tool that ran, why it failed or None)."""
        from uet.engine.api import start_run  # noqa: PLC0415 - only when an agent is called
        from uet.engine.model import RunOptions  # noqa: PLC0415
        from uet.spec._resolve import plan_task  # noqa: PLC0415
        from uet.spec.models import Plan, TaskSpec, WorkstreamSpec  # noqa: PLC0415

        run_id = self.ids.new("run")
        task = TaskSpec(id="agent", tool=self.options.tool, kind=TASK_KIND,
                        prompt=prompt_for(path, found, failure, number), files_scope=[path],
                        isolation="none", retries=0, timeout=AGENT_TIMEOUT_S)  # fmt: skip
        workstream = WorkstreamSpec(id=FIX_WORKSTREAM, name=f"uet fix {path}", tasks=[task])
        plan = Plan(workstreams=(workstream,), tasks=(plan_task(workstream, task, []),),
                    sources={FIX_WORKSTREAM: Path("uet fix")})  # fmt: skip
        options = replace(RunOptions.make(concurrency=1, deterministic=False, run_id=run_id),
                          name=f"uet fix {path}")  # fmt: skip
        in_clone = replace(self.settings, root=clone.path)
        store = self.store()
        outcome = start_run(plan, settings=in_clone, store=store, options=options,
                            interrupted=self.interrupted)  # fmt: skip
        tool, reason = _attempt_of(store, run_id)
        if outcome.exit_code != 0:
            return run_id, tool, f"the agent's task failed: {reason or outcome.status.value}"
        return run_id, tool, None

    def _contained(
        self, clone: AgentClone, changed: list[str], run_id: str | None, path: str
    ) -> str | None:
        """The containment content rules on the agent's change; why it is refused, or None."""
        rules = Allowances().policy([path], list(self.settings.all_protected_paths))
        violations = check_worktree(clone.git, changed, rules)
        if not violations:
            return None
        listed = [{"path": v.path, "rule": v.rule.value, "detail": v.detail} for v in violations]
        first = violations[0]
        reason = f"content rule {first.rule.value}: {first.path} ({first.detail})"
        self._decide("scope", "reject", reason, ["accept", "reject"],
                     {"violations": listed, "file": path}, run_id)  # fmt: skip
        return reason

    def _give_up(self, path: str, why: str, rule: str) -> None:
        self.result.stopped.append({"file": path, "rule": rule, "reason": why})

    def _breaker(self, path: str, signatures: list[str], step: Step) -> None:
        reason = (f"the same error twice in the last {OSCILLATION_WINDOW} attempts on {path}: "
                  f"{step.reason[:300]}")  # fmt: skip
        self._decide("breaker", "open", reason, ["open", "closed"],
                     {"file": path, "signatures": signatures[-OSCILLATION_WINDOW:],
                      "rule": "oscillation"}, None)  # fmt: skip
        self._give_up(path, reason, "oscillation")

    def _decide(  # noqa: PLR0917 - a decision's fields
        self,
        category: str,
        chosen: str,
        reason: str,
        alternatives: list[str],
        data: dict[str, Any],
        run_id: str | None,
    ) -> None:
        record = DecisionRecord(category, chosen, reason, time.time(), run_id, None,
                                alternatives, {"source": "uet fix", **data})  # fmt: skip
        with self.store().transaction() as tx:
            tx.record_decisions([record])

    # -- patches ----------------------------------------------------------------------------

    def _send(self, fixer: str, diff: str, base: str, origin: Origin, *, attempt: int = 0) -> Step:
        files, fps = origin.files, origin.findings
        if self.options.dry_run:
            step = Step(fixer, files, fps, reason="would be sent (dry run)", diff=diff)
            self.result.steps.append(step)
            return step
        ledger = PatchLedger(self.store())
        patch = Patch.parse(diff, base_commit=base, origin=origin)
        existing = _existing(ledger, patch.id)
        if existing is not None:  # the same change on the same base: what it met then
            state, why = existing
            step = Step(fixer, files, fps, patch.id, state, reason=why, attempt=attempt,
                        again=True)  # fmt: skip
            self.result.steps.append(step)
            return step
        record = submit(ledger, diff, repo=self.root, target=self.target, base=base,
                        origin=origin)  # fmt: skip
        check = Recheck(self.checkers, list(self.known), self.paths, self.home / "cache", self.env)
        validation = validate(ledger, record.id, policy=self.policy, home=self.home,
                              findings=check)  # fmt: skip
        step = self._landed(ledger, validation, check, fixer, origin, attempt)
        self.result.steps.append(step)
        return step

    def _landed(  # noqa: PLR0917 - what one validation gave
        self,
        ledger: PatchLedger,
        validation: Validation,
        check: Recheck,
        fixer: str,
        origin: Origin,
        attempt: int,
    ) -> Step:
        queue = None if validation.queue is None else validation.queue.value
        step = Step(fixer, origin.files, origin.findings, validation.patch_id,
                    validation.state.value, queue, validation.reason, attempt=attempt)  # fmt: skip
        if validation.state is not PatchState.QUEUED:
            failing = [f"{s.name}: {s.detail}" for s in validation.signals if s.value < 1.0]
            return replace(step, reason="; ".join([validation.reason, *failing]))
        if validation.queue is not Queue.AUTO_MERGE:
            failing = [f"{s.name}: {s.detail}" for s in validation.signals if s.value < 1.0]
            if not failing:  # the policy wants a person: it waits in its queue
                return step
            why = "; ".join(failing)
            ledger.move(validation.patch_id, PatchState.DROPPED, why[:4000])
            return replace(step, state=PatchState.DROPPED.value, reason=why[:4000])
        landing = land(ledger, validation.patch_id, policy=self.policy, home=self.home)
        if not landing.ok:
            return replace(step, state=landing.state.value, reason=landing.reason)
        self.known = check.after_landing()
        return replace(step, state=landing.state.value, landed=True, reason=landing.reason)

    @contextmanager
    def _clone(self, purpose: str, files: Sequence[str]) -> Iterator[AgentClone]:
        ignore_home(self.home)
        folder = make_dirs(self.home, self.home / "fix")
        agent = f"fix-{purpose.replace(':', '-')}-{self.ids.new('c')[-10:].lower()}"
        dest = inside(self.home, folder / agent)
        clone = create_clone(self.root, dest, agent, base=self.target, target=self.target,
                             files_scope=list(files), allowances=Allowances())  # fmt: skip
        try:
            yield clone
        finally:
            shutil.rmtree(dest, ignore_errors=True)


def fix_policy(settings: Settings) -> PatchPolicy:
    """The patch policy of ``uet fix``: the project's, with the findings check in place of the
    default checks (the same tools, compared with what was there before rather than asked to
    pass outright); checks the project configured itself still run."""
    policy = load_policy(settings)
    section = settings.sections.get("patch_policy") or {}
    configured = isinstance(section, Mapping) and "checks" in section
    return policy if configured else replace(policy, checks=())


def prompt_for(path: str, found: Sequence[Finding], failure: str | None, number: int) -> str:
    """The agent's prompt: the file, its findings, and the last validation's failures."""
    lines = [f"Fix these findings in {path} (change only that file; keep its behaviour and "
             "its tests' meaning):"]  # fmt: skip
    lines += [f"- {describe(f)} [{f.severity.value}]" for f in found]
    if failure:
        lines += ["", f"Attempt {number - 1} was refused by validation:", failure]
    return "\n".join(lines)


def error_signature(reason: str) -> str:
    """A short hash of a failure, with its line numbers and durations left out (so that the
    same error a line further down, or slower, is the same error)."""
    text = _VARYING.sub("", reason)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _oscillates(signatures: Sequence[str]) -> bool:
    last = list(signatures[-OSCILLATION_WINDOW:])
    return len(last) != len(set(last))


def _by_file(findings: Sequence[Finding]) -> dict[str, list[Finding]]:
    grouped: dict[str, list[Finding]] = {}
    for finding in sorted(findings, key=Finding.sort_key):
        if finding.path:
            grouped.setdefault(finding.path, []).append(finding)
    return grouped


def _python_files(root: Path, paths: Sequence[str]) -> list[str]:
    from uet.recovery.scan import discover  # noqa: PLC0415

    return [p for p in discover(root, paths) if p.endswith(".py")]


def _chunks(clone: AgentClone, changed: Sequence[str], policy: PatchPolicy) -> list[list[str]]:
    """``changed`` cut into groups within the policy's file and line limits."""
    sizes: dict[str, int] = {}
    numstat = clone.git.run("diff", "--numstat", "HEAD", "--", *changed, check=False).stdout
    for line in numstat.splitlines():
        added, removed, name = [*line.split("\t", 2), "", "", ""][:3]
        sizes[name] = (int(added) if added.isdigit() else 0) + (
            int(removed) if removed.isdigit() else 0
        )
    chunks: list[list[str]] = []
    current: list[str] = []
    lines = 0
    for path in sorted(changed):
        size = sizes.get(path, 1)
        full = len(current) >= policy.max_files_changed
        if current and (full or lines + size > policy.max_lines_changed):
            chunks.append(current)
            current, lines = [], 0
        current.append(path)
        lines += size
    if current:
        chunks.append(current)
    return chunks


def _existing(ledger: PatchLedger, patch_id: str) -> tuple[str, str] | None:
    """(state, reason) of the patch with exactly this id, when the ledger has it."""
    try:
        record = ledger.get(patch_id)
    except UsageError:
        return None
    if record.id != patch_id:
        return None
    return record.state, record.reason or ""


def _no_agent(settings: Settings, tool: str) -> str | None:
    """Why no agent can take a ``fix`` task here, or None."""
    from uet.routing import load_routing  # noqa: PLC0415
    from uet.spec.tools import load_tools  # noqa: PLC0415

    tools = load_tools(settings)
    if tool != "auto":
        return None if tool in tools else f"agents: no tool profile {tool!r} (uet tools list)"
    if load_routing(settings).rule_for(TASK_KIND, None, None) is not None:
        return None
    if any(TASK_KIND in profile.capabilities for profile in tools.values()):
        return None
    return (f"agents: no tool takes `{TASK_KIND}` tasks (add {TASK_KIND!r} to a tool "
            "profile's capabilities, or a routing rule for kind fix); the findings left are "
            "reported")  # fmt: skip


def _attempt_of(store: Store, run_id: str) -> tuple[str | None, str | None]:
    """(the tool the run's attempt used, why it failed) from the store."""
    from uet.state.reasons import attempt_reason  # noqa: PLC0415
    from uet.states import AttemptState  # noqa: PLC0415

    with store.reader() as tx:
        attempts = tx.get_attempts(run_id)
        decisions = tx.get_decisions(run_id=run_id, category="routing")
    tool = decisions[-1].chosen if decisions else None
    if not attempts:
        return tool, decisions[-1].reason if decisions else "no attempt started"
    last = attempts[-1]
    tool = getattr(last, "tool", None) or tool
    reason = None if last.state is AttemptState.SUCCEEDED else attempt_reason(last)
    return tool, reason

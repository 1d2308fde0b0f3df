"""Validation in isolation: a patch applied in its own clone at the target's *current* head,
checked by the tamper rules, then by the configured checks, each with a timeout; the signals
scored and the patch routed.

::

    1. clone     a fresh agent clone of the base repository at the target's tip
                 (``<home>/patches/<id>``; git only through :mod:`uet.isolation`)
    2. apply     ``git apply`` of the diff: a patch that does not apply is ``apply_failed``
    3. tamper    the tamper rules (:mod:`uet.recovery.tamper`) and the containment content
                 rules on what the patch left in the clone: any reason is ``quarantined``
                 (the manual queue), and none of its code is run
    4. checks    each check of the policy (tests, ruff, mypy, bandit…) in the clone, at most
                 ``timeout`` seconds each, ``repeat`` times (runs that disagree: flaky);
                 then the findings check, when one is given (:class:`FindingsCheck`)
    5. route     the score (:mod:`uet.recovery.confidence`) picks the queue; the patch is
                 ``validated``, then ``queued`` with a ``patch`` decision holding the
                 signals and the threshold; a review patch's branch ``uet/fix/<id>`` is
                 pushed to the base repository

The clone is removed at the end: :mod:`uet.recovery.landing` makes a fresh one at the
target's head when the patch is merged.

The seam for the scan side: a :class:`FindingsCheck` is called with the validation clone
and the patch, and returns signals (kind ``lint`` or ``security``, say) that pass when the
patch's findings are gone and no new finding of equal or higher severity appeared.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from uet.contain.paths import inside, make_dirs, read_text
from uet.contain.rules import Allowances
from uet.errors import UsageError
from uet.execution import Job, Outcome, run_job
from uet.isolation.clones import AgentClone, create_clone, ensure_commit
from uet.isolation.content import check_worktree
from uet.isolation.git import Git, GitError, without_git_redirections
from uet.project import ignore_home
from uet.recovery.confidence import Queue, Route, Signal, SignalStatus, route
from uet.recovery.ledger import PatchLedger, PatchState
from uet.recovery.patches import Origin, Patch
from uet.recovery.policy import CheckSpec, PatchPolicy
from uet.recovery.tamper import Tamper, content_reasons, static_reasons
from uet.scope import FileScope
from uet.state.patches import PatchRecord
from uet.states import AttemptState

REVIEW_PREFIX = "uet/fix/"
"""Review branches: ``uet/fix/<patch id>`` in the base repository."""

CHECK_WORKERS = 3
"""Checks run at once in one validation (the tests, and the file checks beside them)."""

OUTPUT_TAIL_CHARS = 2000

RUNS_CODE = frozenset({"tests", "coverage"})
"""Kinds of check that run the project's code: one at a time in a clone."""


class FindingsCheck(Protocol):
    """The scan side's part: are the patch's findings gone, and no new ones? (signals)"""

    def __call__(self, checkout: Path, patch: Patch) -> Sequence[Signal]: ...


@dataclass(frozen=True, slots=True)
class Validation:
    """How one validation ended."""

    patch_id: str
    state: PatchState  # queued | apply_failed | quarantined
    reason: str
    head: str  # the target's commit it was validated on
    queue: Queue | None = None
    route: Route | None = None
    signals: tuple[Signal, ...] = ()
    tamper: tuple[Tamper, ...] = ()
    branch: str | None = None
    duration: float = 0.0

    def to_json(self) -> dict[str, object]:
        return {
            "patch": self.patch_id,
            "state": self.state.value,
            "reason": self.reason,
            "head": self.head,
            "queue": None if self.queue is None else self.queue.value,
            "score": None if self.route is None else round(self.route.score, 4),
            "route": None if self.route is None else self.route.to_json(),
            "signals": [s.to_json() for s in self.signals],
            "tamper": [t.to_json() for t in self.tamper],
            "branch": self.branch,
            "duration": round(self.duration, 3),
        }


def patch_of(record: PatchRecord) -> Patch:
    return Patch.parse(
        record.diff, base_commit=record.base_commit, origin=Origin.from_json(record.origin)
    )


@contextmanager
def patched_clone(record: PatchRecord, home: Path, purpose: str) -> Iterator[AgentClone]:
    """A fresh clone of the patch's repository at its target's tip (removed afterwards),
    the patch not yet applied."""
    home = Path(home).absolute()
    folder = make_dirs(home, home / "patches")
    ignore_home(home)
    # One folder per use: two validations of one patch never share (or remove) a clone.
    dest = inside(home, folder / f"{record.id}-{purpose}-{os.getpid()}-{time.monotonic_ns()}")
    clone = create_clone(
        Path(record.repo),
        dest,
        record.id,
        base=record.target,
        target=record.target,
        files_scope=list(record.scope.get("files", [])),
        allowances=Allowances(),
    )
    try:
        yield clone
    finally:
        shutil.rmtree(dest, ignore_errors=True)


def apply_diff(clone: AgentClone, diff: str) -> str | None:
    """Apply ``diff`` in the clone's working tree; why not, or None when it applied."""
    done = clone.git.run("apply", "--whitespace=nowarn", "--", input=diff, check=False)
    if done.ok:
        return None
    lines = (done.stderr or done.stdout).strip().splitlines()
    return "; ".join(lines[:3]) or f"git apply exited {done.returncode}"


def validate(
    ledger: PatchLedger,
    patch_id: str,
    *,
    policy: PatchPolicy,
    home: Path,
    findings: FindingsCheck | None = None,
    env: Mapping[str, str] | None = None,
    push_review: bool = True,
) -> Validation:
    """Validate one patch (see the module docstring) and record where it went."""
    started = time.monotonic()
    record = ledger.get(patch_id)
    patch = patch_of(record)
    policy = policy.for_patch(patch.scope.files, patch.origin.category)
    head = ensure_commit(Git(Path(record.repo)), f"refs/heads/{record.target}")
    with patched_clone(record, home, "validate") as clone:
        problem = apply_diff(clone, record.diff)
        if problem is not None:
            reason = f"does not apply to {record.target} at {head[:12]}: {problem}"
            ledger.move(record.id, PatchState.APPLY_FAILED, reason, data={"head": head})
            return Validation(
                record.id, PatchState.APPLY_FAILED, reason, head, duration=_since(started)
            )
        tamper = tamper_reasons(clone, patch, policy)
        if tamper:
            return _quarantine(ledger, record.id, head, tamper, started)
        clone.commit(list(patch.scope.files), f"uet patch {record.id}")
        signals = run_checks(clone.path, patch, policy, home=home, env=env)
        if findings is not None:
            signals = (*signals, *findings(clone.path, patch))
        chosen = route(signals, policy, patch.scope.files)
        branch = None
        if chosen.queue is Queue.REVIEW and push_review:
            branch = push_branch(clone, record.id)
        _record_route(
            ledger, record.id, head, signals=signals, chosen=chosen, policy=policy, branch=branch
        )
    return Validation(
        record.id,
        PatchState.QUEUED,
        chosen.reason,
        head,
        chosen.queue,
        chosen,
        tuple(signals),
        branch=branch,
        duration=_since(started),
    )


def tamper_reasons(clone: AgentClone, patch: Patch, policy: PatchPolicy) -> list[Tamper]:
    """Every tamper rule the applied patch breaks in ``clone`` (static rules, then the
    containment content rules on what it left in the working tree)."""

    def texts(path: str) -> tuple[str | None, str | None]:
        before = clone.git.run("show", f"HEAD:{path}", check=False)
        after = read_text(clone.path, clone.path / path)
        return (before.stdout if before.ok else None), after

    found = static_reasons(patch, policy, texts=texts, finding_files=patch.origin.files)
    changed = clone.state().changed
    content = Allowances(allow_binary=not policy.forbid_binary).policy(
        list(patch.scope.files), list(policy.protected_paths)
    )
    found += content_reasons(check_worktree(clone.git, changed, content))
    return list(dict.fromkeys(found))


def _quarantine(
    ledger: PatchLedger, patch_id: str, head: str, tamper: Sequence[Tamper], started: float
) -> Validation:
    first = tamper[0]
    reason = f"tamper rule {first.rule}: {first.path} ({first.detail})"
    if len(tamper) > 1:
        reason += f"; and {len(tamper) - 1} more"
    body = {"head": head, "queue": Queue.MANUAL.value, "tamper": [t.to_json() for t in tamper]}
    decision = ledger.decide(
        Queue.MANUAL.value,
        reason,
        alternatives=[q.value for q in Queue],
        data={"patch": patch_id, **body, "signals": [], "score": None, "threshold": None},
    )
    ledger.move(
        patch_id,
        PatchState.QUARANTINED,
        reason,
        data=body,
        decision=decision,
        queue=Queue.MANUAL.value,
        confidence=None,
        signals=[],
    )
    return Validation(
        patch_id,
        PatchState.QUARANTINED,
        reason,
        head,
        Queue.MANUAL,
        tamper=tuple(tamper),
        duration=_since(started),
    )


def _record_route(
    ledger: PatchLedger,
    patch_id: str,
    head: str,
    *,
    signals: Sequence[Signal],
    chosen: Route,
    policy: PatchPolicy,
    branch: str | None,
) -> None:
    listed = [s.to_json() for s in signals]
    ledger.move(
        patch_id,
        PatchState.VALIDATED,
        f"checks ran on {head[:12]}: " + ", ".join(f"{s.name} {s.status.value}" for s in signals),
        data={"head": head, "signals": listed, "score": chosen.score},
        confidence=chosen.score,
        signals=listed,
        commit=None,
    )
    data = {
        "patch": patch_id,
        "head": head,
        "signals": listed,
        "thresholds": {"auto_merge": policy.auto_merge, "review": policy.review},
        **chosen.to_json(),
    }
    decision = ledger.decide(
        chosen.queue.value, chosen.reason, alternatives=[q.value for q in Queue], data=data
    )
    body: dict[str, object] = {"queue": chosen.queue.value, "score": chosen.score}
    if branch is not None:
        body["branch"] = branch
    ledger.move(
        patch_id,
        PatchState.QUEUED,
        chosen.reason,
        data=body,
        decision=decision,
        queue=chosen.queue.value,
        branch=branch,
    )


def push_branch(clone: AgentClone, patch_id: str) -> str:
    """Put the clone's branch in the base repository as ``uet/fix/<id>``; its name."""
    branch = f"{REVIEW_PREFIX}{patch_id}"
    base = Git(Path(clone.context.repo))
    base.run(
        "fetch",
        "--quiet",
        "--no-tags",
        str(clone.path),
        f"+{clone.context.branch}:refs/heads/{branch}",
    )
    return branch


# -- running the checks ---------------------------------------------------------------------


def check_env(home: Path, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a check: the caller's (no git redirections), non-interactive, with
    caches kept in uet's home rather than in the clone (mypy's cache makes it fast)."""
    base = without_git_redirections(env if env is not None else os.environ)
    cache = Path(home) / "cache"
    base.update(
        UET_NON_INTERACTIVE="1",
        NON_INTERACTIVE="1",
        CI=base.get("CI", "true"),
        PYTHONDONTWRITEBYTECODE="1",
        MYPY_CACHE_DIR=str(cache / "mypy"),
        RUFF_CACHE_DIR=str(cache / "ruff"),
    )
    return base


def run_checks(
    checkout: Path,
    patch: Patch,
    policy: PatchPolicy,
    *,
    home: Path,
    env: Mapping[str, str] | None = None,
) -> tuple[Signal, ...]:
    """Run every check of ``policy`` in ``checkout``; one signal each, in the policy's order.

    The checks that run the project's code (kinds in :data:`RUNS_CODE`: they share the
    working tree's files, caches and counters) run one after another; the file checks
    (lint, types, security) run beside them."""
    environment = check_env(home, env)
    present = [p for p in patch.scope.files if (checkout / p).is_file()]
    logs = make_dirs(Path(home), Path(home) / "logs" / "patches")

    def one(spec: CheckSpec) -> Signal:
        return run_check(spec, checkout, present, environment, logs / f"{spec.name}.log")

    def in_turn(specs: Sequence[CheckSpec]) -> list[Signal]:
        return [one(spec) for spec in specs]

    code = [spec for spec in policy.checks if spec.kind in RUNS_CODE]
    files = [spec for spec in policy.checks if spec.kind not in RUNS_CODE]
    workers = max(1, min(CHECK_WORKERS, len(files) + 1))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="uet-check") as pool:
        sequential = pool.submit(in_turn, code)
        beside = list(pool.map(one, files))
        found = {id(spec): signal for spec, signal in zip(code, sequential.result(), strict=True)}
    found.update({id(spec): signal for spec, signal in zip(files, beside, strict=True)})
    return tuple(found[id(spec)] for spec in policy.checks)


def run_check(
    spec: CheckSpec,
    checkout: Path,
    files: Sequence[str],
    env: Mapping[str, str],
    log_path: Path | None = None,
) -> Signal:
    """Run one check (``repeat`` times unless it fails first) and say what it found."""
    targets = [f for f in files if FileScope([spec.files]).allows(f)] if spec.files else []
    if spec.files and not targets:
        return Signal(spec.name, spec.kind, SignalStatus.NOT_APPLICABLE, detail="no file to check")
    argv = _argv(spec.command, targets)
    outcomes: list[Outcome] = []
    started = time.monotonic()
    for number in range(1, spec.repeat + 1):
        job = Job(
            attempt_id=number,
            key=f"check {spec.name}",
            argv=argv,
            cwd=checkout,
            env=env,
            timeout=spec.timeout,
            kill_grace=1.0,
            log_path=log_path,
        )
        outcome = run_job(job)
        outcomes.append(outcome)
        if outcome.state is not AttemptState.SUCCEEDED:
            break
    return _signal(spec, outcomes, time.monotonic() - started)


def _argv(command: Sequence[str], files: Sequence[str]) -> list[str]:
    argv: list[str] = []
    for part in command:
        if part == "{files}":
            argv.extend(files)
        else:
            argv.append(part.replace("{python}", sys.executable))
    return argv


def _signal(spec: CheckSpec, outcomes: Sequence[Outcome], duration: float) -> Signal:
    last = outcomes[-1]
    codes = tuple(o.exit_code for o in outcomes)
    tail = last.output_tail[-OUTPUT_TAIL_CHARS:]
    status = _status(spec, outcomes)
    detail = {
        SignalStatus.PASSED: f"passed {len(outcomes)} run(s)",
        SignalStatus.FLAKY: f"passed {len(outcomes) - 1} run(s), then failed: flaky",
        SignalStatus.TIMED_OUT: f"timed out after {spec.timeout:g} s",
        SignalStatus.MISSING: f"not installed ({last.error or tail.strip()[-200:]})",
        SignalStatus.ERROR: f"could not run: {last.error}",
        SignalStatus.FAILED: f"exit {last.exit_code}",
    }[status]
    return Signal(spec.name, spec.kind, status, duration, detail, codes, tail)


def _status(spec: CheckSpec, outcomes: Sequence[Outcome]) -> SignalStatus:
    last = outcomes[-1]
    if last.state is AttemptState.SUCCEEDED:
        return SignalStatus.PASSED
    if len(outcomes) > 1:
        return SignalStatus.FLAKY
    if last.state is AttemptState.TIMED_OUT:
        return SignalStatus.TIMED_OUT
    if last.state is AttemptState.ERROR:
        missing = ("not found", "does not exist")
        return (
            SignalStatus.MISSING
            if any(m in (last.error or "") for m in missing)
            else SignalStatus.ERROR
        )
    module = spec.command[2] if len(spec.command) > 2 and spec.command[1] == "-m" else None
    if module and f"No module named {module}" in last.output_tail and last.exit_code == 1:
        return SignalStatus.MISSING
    return SignalStatus.FAILED


def _since(started: float) -> float:
    return time.monotonic() - started


def submit(
    ledger: PatchLedger,
    diff: str,
    *,
    repo: Path,
    target: str | None = None,
    base: str | None = None,
    origin: Origin | None = None,
) -> PatchRecord:
    """Record a new patch for ``target`` (default: the repository's current branch), made on
    ``base`` (default: the target's tip); UsageError when the diff is no patch."""
    git = Git(Path(repo).absolute())
    if target is None:
        found = git.run("symbolic-ref", "--quiet", "--short", "HEAD", check=False)
        if not found.ok:
            raise UsageError(f"{repo}: HEAD is detached; say which branch the patch is for")
        target = found.stdout.strip()
    if not git.ok("show-ref", "--verify", "--quiet", f"refs/heads/{target}"):
        raise UsageError(f"{repo}: no branch {target!r} to patch")
    try:
        commit = ensure_commit(git, base or f"refs/heads/{target}")
    except GitError as exc:
        raise UsageError(f"{repo}: base {base!r} is not a commit here ({exc.stderr})") from None
    patch = Patch.parse(diff, base_commit=commit, origin=origin)
    return ledger.create(patch, repo=str(git.cwd), target=target)

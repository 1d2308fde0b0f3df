"""The merge queue: agent branches reach the target one at a time, verified, gated, fast-forward.

For each agent, in dependency order, with the repository's merge lock held::

    1. base     fetch the target's tip into the clone; nothing to do if the branch is in it
    2. scope    every path the agent changed must be inside its files_scope (when set) and
                be no protected path the scope does not name (``uet.scope.ProtectedPaths``)
    3. rebase   if the target moved past the agent's base: rebase the branch in the agent's
                clone (a conflict aborts the rebase: the branch is left as it was)
    4. gate     run the gate command on the result, in a throwaway clone of it
    5. advance  fast-forward the target to the result (``merge --ff-only`` when the target is
                checked out in the base repository, else a compare-and-swap ``update-ref``);
                if the target moved meanwhile, start again from 1 (at most ``MERGE_ROUNDS``)

A refusal at any step leaves the target untouched and the agent's branch intact, and the
:class:`MergeResult` says which step refused and why. The merge lock is an ``flock`` on
``<git-dir>/uet-merge.flock`` of the base repository: it serialises every uet process and is
released by the kernel when its holder dies, so it never goes stale.
"""

from __future__ import annotations

import enum
import fcntl
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from uet.contain.paths import make_dirs
from uet.contain.rules import Violation
from uet.errors import ExitCode, UetError, UsageError
from uet.isolation.clones import AgentClone, AgentContext, changed_files, is_ancestor
from uet.isolation.content import check_commits
from uet.isolation.git import Git
from uet.scope import FileScope, ProtectedPaths

MERGE_ROUNDS = 3
"""Times a merge starts again because the target moved while it was being verified."""

MERGE_LOCK_TIMEOUT_S = 3600.0
"""Seconds a merge waits for the merge queue of its repository (another merge is gating)."""

MERGE_FLOCK_NAME = "uet-merge.flock"


class MergeQueueBusyError(UetError):
    """Another merge held the repository's merge queue for longer than we would wait."""

    exit_code = ExitCode.INFRA


class MergeStatus(enum.StrEnum):
    MERGED = "merged"  # the target now contains the agent's work
    UP_TO_DATE = "up_to_date"  # the target already contained it: nothing to do
    REFUSED = "refused"  # not merged: ``code`` says which step refused


@dataclass(frozen=True, slots=True)
class GateResult:
    """How a gate command ended."""

    command: str
    ok: bool
    exit_code: int | None
    duration: float
    output_tail: str = ""
    detail: str = ""  # timed out, could not start…


Gate = Callable[[Path, AgentContext], GateResult]
"""Runs the gate in a checkout of the candidate result (the directory given)."""


@dataclass(frozen=True, slots=True)
class MergeResult:
    agent: str
    status: MergeStatus
    code: str  # merged | up_to_date | missing | out_of_scope | wrong_branch | dirty | conflict
    # | content | gate_failed | checkout_blocked | target_moved | blocked
    reason: str  # one sentence a person can act on
    target: str
    before: str | None = None  # the target's tip before
    after: str | None = None  # the target's tip after (== before unless merged)
    tip: str | None = None  # the agent branch's tip (after any rebase)
    rebased: bool = False
    files: list[str] = field(default_factory=list)  # what the agent changed
    gate: GateResult | None = None
    violations: list[Violation] = field(default_factory=list)  # the content rules broken

    @property
    def ok(self) -> bool:
        return self.status is not MergeStatus.REFUSED


@contextmanager
def merge_lock(
    base: Git,
    *,
    timeout: float = MERGE_LOCK_TIMEOUT_S,
    on_wait: Callable[[], None] | None = None,
) -> Iterator[None]:
    """Hold the base repository's merge queue (see the module docstring)."""
    fd = os.open(base.git_dir / MERGE_FLOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        deadline = time.monotonic() + timeout
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not told and on_wait is not None:
                    on_wait()
                    told = True
                if time.monotonic() >= deadline:
                    raise MergeQueueBusyError(
                        f"{base.cwd}: another merge held the merge queue for {timeout:.0f} s"
                    ) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)


def merge_order(contexts: Sequence[AgentContext]) -> list[AgentContext]:
    """Agents in dependency order (``depends_on`` among those given), ties in given order."""
    by_id = {c.id: c for c in contexts}
    waiting = {c.id: {d for d in c.depends_on if d in by_id} for c in contexts}
    done: list[AgentContext] = []
    while waiting:
        ready = [c for c in contexts if c.id in waiting and not waiting[c.id]]
        if not ready:
            cycle = " -> ".join(sorted(waiting))
            raise UsageError(f"agents depend on each other in a cycle: {cycle}")
        for context in ready:
            done.append(context)
            del waiting[context.id]
            for needs in waiting.values():
                needs.discard(context.id)
    return done


@contextmanager
def gate_checkout(clone: AgentClone, commit: str, workdir: Path) -> Iterator[Path]:
    """A throwaway clone of ``clone`` with ``commit`` checked out; removed afterwards."""
    workdir = make_dirs(workdir.parent, workdir.absolute())  # never through a link out
    path = workdir / f"{clone.id}-{os.getpid()}-{time.monotonic_ns()}"
    try:
        Git(workdir).run("clone", "--quiet", "--no-checkout", "--", str(clone.path), str(path))
        Git(path).run("checkout", "--quiet", "--detach", commit)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def merge_agent(  # noqa: PLR0911, PLR0912 - one return per step that can refuse, in order
    clone: AgentClone,
    base: Git,
    *,
    target: str | None = None,
    gate: Gate | None = None,
    workdir: Path,
    protected: ProtectedPaths | None = None,
) -> MergeResult:
    """Merge one agent's branch into ``target`` (default: its recorded target).

    Call with :func:`merge_lock` held. Never raises for a refusal: the result says why.
    """
    context = clone.context
    target = target or context.target
    scope = FileScope(context.files_scope)
    before: str | None = None

    def refused(code: str, reason: str, **extra: object) -> MergeResult:
        return MergeResult(
            context.id,
            MergeStatus.REFUSED,
            code,
            reason,
            target,
            before=before,
            after=before,
            **extra,  # type: ignore[arg-type]
        )

    for _round in range(MERGE_ROUNDS):
        before = _tip(base, f"refs/heads/{target}")
        if before is None:
            return refused("missing", f"the target branch {target!r} does not exist in {base.cwd}")
        tip = clone.branch_tip()
        if tip is None:
            return refused("missing", f"the clone has no branch {context.branch}")
        clone.git.run(
            "fetch", "--quiet", "--no-tags", str(base.cwd), f"+refs/heads/{target}:refs/uet/target"
        )
        if _tip(clone.git, "refs/uet/target") != before:
            continue  # the target moved while we fetched
        if is_ancestor(clone.git, tip, before):
            return MergeResult(
                context.id,
                MergeStatus.UP_TO_DATE,
                "up_to_date",
                f"{target} already contains {context.branch}",
                target,
                before=before,
                after=before,
                tip=tip,
            )
        fork = clone.git.out("merge-base", before, tip)
        files = changed_files(clone.git, fork, tip)
        problem = _bounds(clone, scope, protected, files=files, fork=fork, tip=tip)
        if problem is not None:
            return refused(*problem, files=files, tip=tip)
        violations = _content(clone, protected, fork=fork, tip=tip)
        if violations:
            return refused(
                "content",
                f"{len(violations)} changed path(s) break the content rules: "
                + ", ".join(str(v) for v in violations[:10]),
                files=files,
                tip=tip,
                violations=violations,
            )
        rebased = False
        if fork != before:  # the target moved past the agent's base: rebase in the clone
            problem = _rebase(clone, tip)
            if problem is not None:
                code, reason = problem
                return refused(code, reason, files=files, tip=tip)
            tip = clone.branch_tip() or tip
            clone.rebased(before)
            rebased = True
        gate_result = None
        if gate is not None:
            with gate_checkout(clone, tip, workdir) as checkout:
                gate_result = gate(checkout, clone.context)
            if not gate_result.ok:
                return refused(
                    "gate_failed",
                    f"the gate `{gate_result.command}` failed on the "
                    f"{'rebased ' if rebased else ''}result "
                    f"({gate_result.detail or f'exit {gate_result.exit_code}'})",
                    files=files,
                    tip=tip,
                    rebased=rebased,
                    gate=gate_result,
                )
        advanced = _advance(base, clone, target, before, tip)
        if advanced is None:
            continue  # the target moved while we gated: verify again
        if advanced:
            return refused(
                "checkout_blocked",
                advanced,
                files=files,
                tip=tip,
                rebased=rebased,
                gate=gate_result,
            )
        return MergeResult(
            context.id,
            MergeStatus.MERGED,
            "merged",
            f"{target} fast-forwarded to {tip[:12]}"
            + (f" (rebased onto {before[:12]})" if rebased else ""),
            target,
            before=before,
            after=tip,
            tip=tip,
            rebased=rebased,
            files=files,
            gate=gate_result,
        )
    return refused(
        "target_moved", f"{target} kept moving during {MERGE_ROUNDS} attempts; merge again"
    )


def _bounds(
    clone: AgentClone,
    scope: FileScope,
    protected: ProtectedPaths | None,
    *,
    files: list[str],
    fork: str,
    tip: str,
) -> tuple[str, str] | None:
    """(code, reason) when the branch changes paths outside its scope or protected paths
    its scope does not name; None when it may merge."""
    outside = scope.outside(files)
    if outside:
        return (
            "out_of_scope",
            f"{len(outside)} changed path(s) outside files_scope "
            f"{list(scope.patterns)}: {', '.join(outside[:10])}",
        )
    if protected is None:
        return None

    def show(commit: str, path: str) -> str | None:
        done = clone.git.run("show", f"{commit}:{path}", check=False)
        return done.stdout if done.returncode == 0 else None

    hits = protected.violations(files, scope, lambda path: (show(fork, path), show(tip, path)))
    if not hits:
        return None
    named = ", ".join(f"{path} ({entry})" for path, entry in hits[:10])
    return (
        "protected",
        f"{len(hits)} protected path(s) changed that files_scope does not name: {named}",
    )


def _content(
    clone: AgentClone, protected: ProtectedPaths | None, *, fork: str, tip: str
) -> list[Violation]:
    """What the commits ``fork..tip`` contain that the content rules refuse
    (:mod:`uet.contain.rules`; the allowances recorded with the clone)."""
    context = clone.context
    entries = [str(e) for e in protected.entries] if protected is not None else []
    policy = context.allowances.policy(context.files_scope, entries)
    return check_commits(clone.git, fork, tip, policy)


def _tip(git: Git, ref: str) -> str | None:
    return git.run("rev-parse", "--verify", "--quiet", ref, check=False).stdout.strip() or None


def _rebase(clone: AgentClone, tip: str) -> tuple[str, str] | None:
    """Rebase the agent's branch onto refs/uet/target; (code, reason) when it cannot."""
    state = clone.state()
    branch = clone.context.branch
    if state.branch != branch:
        return (
            "wrong_branch",
            f"the target moved and the branch needs a rebase, but the clone is on "
            f"{state.branch or 'a detached HEAD'}, not {branch} (check out {branch})",
        )
    if state.dirty:
        return (
            "dirty",
            f"the target moved and the branch needs a rebase, but the clone has uncommitted "
            f"changes: {', '.join(state.changed[:10])} (commit or discard them)",
        )
    done = clone.git.run("rebase", "--quiet", "refs/uet/target", check=False)
    if done.ok:
        return None
    conflicts = clone.git.run("diff", "--name-only", "--diff-filter=U", check=False).stdout.split()
    clone.git.run("rebase", "--abort", check=False)
    if clone.branch_tip() != tip:  # never leave the branch other than it was
        clone.git.run("reset", "--quiet", "--hard", tip)
    return (
        "conflict",
        f"rebasing {branch} onto the target conflicts in: {', '.join(conflicts) or '?'} "
        f"(the branch is left as it was; resolve in the clone and merge again)",
    )


def _advance(base: Git, clone: AgentClone, target: str, before: str, tip: str) -> str | None:
    """Fast-forward ``target`` from ``before`` to ``tip``: "" when done, None when the target
    moved meanwhile, else why it could not."""
    # Once begun, moving the user's branch and checkout must finish: a task timeout that
    # stops the agent runner must not kill git halfway through `merge --ff-only`.
    base = Git(base.cwd, shielded=True)
    incoming = f"refs/uet/incoming/{clone.id}"
    base.run(
        "fetch",
        "--quiet",
        "--no-tags",
        str(clone.path),
        f"+refs/heads/{clone.context.branch}:{incoming}",
    )
    try:
        if _tip(base, incoming) != tip:
            return None
        checkout = _checked_out(base, target)
        if checkout is not None:
            # The target is checked out (here or in a linked worktree): move that working
            # tree and index with it, or a later commit there would revert the merge.
            done = Git(checkout, shielded=True).run(
                "merge", "--quiet", "--ff-only", tip, check=False
            )
            if done.ok:
                return ""
            if _tip(base, f"refs/heads/{target}") != before:
                return None
            return (
                f"{target} is checked out in {checkout} with local changes that the "
                f"fast-forward would overwrite: {done.stderr.strip().splitlines()[0:3]}"
            )
        message = f"uet merge: {clone.context.branch}"
        done = base.run(
            "update-ref", "-m", message, f"refs/heads/{target}", tip, before, check=False
        )
        return "" if done.ok else None
    finally:
        base.run("update-ref", "-d", incoming, check=False)


def _checked_out(base: Git, target: str) -> Path | None:
    """The working tree (main or linked) that has ``target`` checked out, if any."""
    listing = base.out("worktree", "list", "--porcelain")
    path: Path | None = None
    for line in listing.splitlines():
        if line.startswith("worktree "):
            path = Path(line.removeprefix("worktree "))
        elif line == f"branch refs/heads/{target}" and path is not None:
            return path
    return None

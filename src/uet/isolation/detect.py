"""Detectors of the six ways concurrent agents break each other's git work.

:func:`detect` looks at a base repository and its agents' clones and returns one
:class:`Finding` per problem, sorted by code and place. It only reads: it runs read-only git
commands (``status`` without optional locks, ``rev-parse``, ``log``, ``merge-base``…),
reads hook files and lock files' ages, and never deletes, fetches or rewrites anything.

=============================== ==========================================================
P1_SHARED_HEAD_RACE             a clone's HEAD is not on its branch ``agent/<id>``; the base
                                repository's HEAD is on an ``agent/*`` branch
P2_CROSS_AGENT_STAGING          a clone has staged files outside its files_scope; the base
                                repository has staged files inside an agent's files_scope
P3_WORK_LOST_ON_SWITCH          stash entries (base or clone); uncommitted work in a clone
                                whose HEAD left its branch
P4_PRECOMMIT_SIDE_EFFECTS       changed files or commits outside the files_scope (what hooks
                                do behind an agent's back); a clone without uet's guard hook
P5_INDEX_LOCK_CONTENTION        a lock file older than ``stale_after`` that no live process
                                holds (a fresh or held lock is normal contention)
P6_INCONSISTENT_BASE_BRANCHES   an agent branch without its recorded base, or whose base left
                                the target's history (the target was rewritten); without
                                agent contexts, ``agent/*`` branches not on the target's tip
=============================== ==========================================================

A context whose clone directory is gone is skipped: removing a clone is legitimate.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from uet.errors import UsageError
from uet.isolation.clones import GUARD_MARK, AgentContext, CloneState, clone_state, is_ancestor
from uet.isolation.git import GIT_STALE_LOCK_S, Git, lock_files, lock_in_use
from uet.scope import FileScope

AGENT_PREFIX = "agent/"
"""Branches of this name belong to agents (``agent/<id>``)."""

_LIST_LIMIT = 50
"""Paths or commits named in one finding's evidence at most (the count is always given)."""


class FailureMode(enum.StrEnum):
    """The six multi-agent git failure modes; a :class:`Finding`'s ``code`` is one of them."""

    SHARED_HEAD_RACE = "P1_SHARED_HEAD_RACE"
    CROSS_AGENT_STAGING = "P2_CROSS_AGENT_STAGING"
    WORK_LOST_ON_SWITCH = "P3_WORK_LOST_ON_SWITCH"
    PRECOMMIT_SIDE_EFFECTS = "P4_PRECOMMIT_SIDE_EFFECTS"
    INDEX_LOCK_CONTENTION = "P5_INDEX_LOCK_CONTENTION"
    INCONSISTENT_BASE_BRANCHES = "P6_INCONSISTENT_BASE_BRANCHES"


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem: which mode, where, whose, what to do, and the facts that show it."""

    code: str  # a FailureMode value: "P1_SHARED_HEAD_RACE" … "P6_INCONSISTENT_BASE_BRANCHES"
    where: str  # the repository or clone path the finding is about
    agent: str | None  # the agent id, when it is about an agent
    message: str  # one sentence: what is wrong and what to do
    evidence: dict[str, Any] = field(default_factory=dict)


def detect(
    repo: Path,
    agents: Sequence[AgentContext] = (),
    *,
    target: str | None = None,
    stale_after: float = GIT_STALE_LOCK_S,
    now: float | None = None,
) -> list[Finding]:
    """Every P1-P6 finding for the base repository ``repo`` and the clones of ``agents``.

    ``target`` overrides each agent's recorded target; without agent contexts it is the
    branch the ``agent/*`` branches must sit on (default: the repository's current branch).
    ``now`` (default: the clock) is when lock ages are measured from.
    """
    now = time.time() if now is None else now
    base = _Base.open(Path(repo))
    live = [context for context in agents if Path(context.path).is_dir()]
    targets = _Targets(base.git)
    findings = [
        *_check_base(base, live),
        *_stale_locks(base.git_dir, base.where, None, stale_after, now),
    ]
    for context in live:
        clone = _Clone.open(context)
        findings += _check_clone(clone)
        findings += _stale_locks(clone.git_dir, clone.where, context.id, stale_after, now)
        findings += _check_bases(clone, base, targets, target or context.target)
    if not agents:
        findings += _check_agent_branches(base, targets, target or base.target)
    return sorted(findings, key=lambda f: (f.code, f.where, f.agent or "", f.message))


# -- facts ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Base:
    """The base repository: where it is, its HEAD branch, whether it has a working tree."""

    git: Git
    where: str
    git_dir: Path
    bare: bool
    branch: str | None  # None: detached HEAD

    @property
    def target(self) -> str | None:
        """The branch checked out here, unless it is an agent's (then there is none)."""
        if self.branch is None or self.branch.startswith(AGENT_PREFIX):
            return None
        return self.branch

    @classmethod
    def open(cls, repo: Path) -> _Base:
        git = Git(repo)
        found = git.run(
            "rev-parse",
            "--is-bare-repository",
            "--path-format=absolute",
            "--git-common-dir",
            "--show-toplevel",
            check=False,
        )
        lines = found.stdout.splitlines()
        bare = lines[:1] == ["true"]
        if len(lines) < (2 if bare else 3):
            why = found.stderr.strip().splitlines()[:1] or ["no git repository"]
            raise UsageError(f"{repo} is not a git repository ({why[0]})")
        top = git.cwd if bare else Path(lines[2])
        head = git.run("symbolic-ref", "--quiet", "--short", "HEAD", check=False)
        branch = head.stdout.strip() if head.ok else None
        return cls(Git(top), str(top), Path(lines[1]), bare, branch)


@dataclass(frozen=True, slots=True)
class _Clone:
    """What one agent clone looks like now."""

    context: AgentContext
    git: Git
    where: str
    git_dir: Path
    hooks: Path
    state: CloneState
    tip: str | None  # the agent branch's commit; None when the branch is gone
    stashes: list[dict[str, str]]

    @classmethod
    def open(cls, context: AgentContext) -> _Clone:
        git = Git(Path(context.path))
        git_dir, hooks = git.out(
            "rev-parse", "--path-format=absolute", "--git-dir", "--git-path", "hooks"
        ).splitlines()
        state = clone_state(git)
        tip = state.head if state.branch == context.branch else _commit(git, context.branch)
        return cls(
            context, git, str(git.cwd), Path(git_dir), Path(hooks), state, tip, _stashes(git)
        )

    @property
    def scope(self) -> FileScope:
        return FileScope(self.context.files_scope)


def _commit(git: Git, branch: str) -> str | None:
    found = git.run("rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", check=False)
    return found.stdout.strip() or None


def _stashes(git: Git) -> list[dict[str, str]]:
    """The stash entries of the repository, newest first (none when it has no stash)."""
    found = git.run(
        "log", "--walk-reflogs", "--format=%gd%x00%H%x00%gs", "refs/stash", "--", check=False
    )
    if not found.ok:  # no refs/stash: nothing was ever stashed, or everything was dropped
        return []
    entries = []
    for line in found.stdout.splitlines():
        ref, commit, message = [*line.split("\0", 2), "", ""][:3]
        entries.append({"ref": ref, "commit": commit, "message": message})
    return entries


class _Targets:
    """Target tips and "is this commit on the target" answers from the base repository's
    objects, each asked once."""

    def __init__(self, git: Git) -> None:
        self.git = git
        self._tips: dict[str, str | None] = {}
        self._contains: dict[tuple[str, str], bool] = {}

    def tip(self, target: str) -> str | None:
        if target not in self._tips:
            self._tips[target] = _commit(self.git, target) or _resolve(self.git, target)
        return self._tips[target]

    def contains(self, tip: str, commit: str) -> bool:
        key = (tip, commit)
        if key not in self._contains:
            self._contains[key] = is_ancestor(self.git, commit, tip)
        return self._contains[key]

    @property
    def objects(self) -> str:
        return str(self.git.git_dir / "objects")


def _resolve(git: Git, ref: str) -> str | None:
    found = git.run(
        "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}", check=False
    )
    return found.stdout.strip() or None


def _finding(
    mode: FailureMode, where: str, agent: str | None, message: str, **evidence: Any
) -> Finding:
    return Finding(mode.value, where, agent, message, evidence)


def _listed(paths: Iterable[str]) -> list[str]:
    return sorted(set(paths))[:_LIST_LIMIT]


# -- the base repository -----------------------------------------------------------------------


def _check_base(base: _Base, live: Sequence[AgentContext]) -> list[Finding]:
    """P1: the shared tree switched to an agent branch; P2: an agent's files staged in the
    shared tree; P3: stashed work in the shared repository."""
    findings: list[Finding] = []
    if base.branch is not None and base.branch.startswith(AGENT_PREFIX):
        findings.append(
            _finding(
                FailureMode.SHARED_HEAD_RACE,
                base.where,
                base.branch.removeprefix(AGENT_PREFIX),
                f"the base repository's HEAD is on the agent branch {base.branch}: an agent "
                f"switched the shared tree; switch it back to the target branch, and let "
                f"agents work only in their clones",
                head_branch=base.branch,
            )
        )
    scoped = [context for context in live if context.files_scope]
    if scoped and not base.bare:
        findings += _base_staging(base, scoped)
    stashes = _stashes(base.git)
    if stashes:
        findings.append(_stash_finding(base.where, None, stashes))
    return findings


def _base_staging(base: _Base, scoped: Sequence[AgentContext]) -> list[Finding]:
    out = base.git.out("diff", "--cached", "--name-only", "--no-renames", "-z")
    staged = [path for path in out.split("\0") if path]
    findings = []
    for context in scoped:
        scope = FileScope(context.files_scope)
        inside = [path for path in staged if scope.allows(path)]
        if inside:
            findings.append(
                _finding(
                    FailureMode.CROSS_AGENT_STAGING,
                    base.where,
                    context.id,
                    f"{len(inside)} file(s) staged in the base repository belong to agent "
                    f"{context.id}'s files_scope: unstage them there (git restore --staged) "
                    f"and leave those files to the agent's clone",
                    paths=_listed(inside),
                    count=len(inside),
                    files_scope=list(context.files_scope),
                )
            )
    return findings


def _stash_finding(where: str, agent: str | None, stashes: list[dict[str, str]]) -> Finding:
    return _finding(
        FailureMode.WORK_LOST_ON_SWITCH,
        where,
        agent,
        f"{len(stashes)} stash entr{'y holds' if len(stashes) == 1 else 'ies hold'} work set aside "
        f"(by a branch switch?): restore it (git stash pop) or drop it once you know it is "
        f"not needed",
        stashes=stashes[:_LIST_LIMIT],
        count=len(stashes),
    )


# -- each clone ---------------------------------------------------------------------------------


def _check_clone(clone: _Clone) -> list[Finding]:
    return [
        *_head_checks(clone),
        *_staging_check(clone),
        *([_stash_finding(clone.where, clone.context.id, clone.stashes)] if clone.stashes else []),
        *_scope_checks(clone),
        *_guard_check(clone),
    ]


def _head_checks(clone: _Clone) -> list[Finding]:
    """P1: HEAD left the agent branch; P3: with uncommitted work on it."""
    state, context = clone.state, clone.context
    if state.branch == context.branch:
        return []
    on = state.branch or "a detached HEAD"
    facts = {"head_branch": state.branch, "head": state.head, "branch": context.branch}
    findings = [
        _finding(
            FailureMode.SHARED_HEAD_RACE,
            clone.where,
            context.id,
            f"agent {context.id}'s clone is on {on}, not on {context.branch}: commit nothing "
            f"there, and switch back (git switch {context.branch}) once its work is kept",
            **facts,
        )
    ]
    if state.changed:
        findings.append(
            _finding(
                FailureMode.WORK_LOST_ON_SWITCH,
                clone.where,
                context.id,
                f"agent {context.id}'s clone has {len(state.changed)} uncommitted path(s) while "
                f"on {on}: keep them (commit on {context.branch} or archive the clone) before "
                f"anything switches branches again",
                paths=_listed(state.changed),
                count=len(state.changed),
                **facts,
            )
        )
    return findings


def _staging_check(clone: _Clone) -> list[Finding]:
    """P2: files staged in the clone outside the agent's files_scope."""
    outside = clone.scope.outside(clone.state.staged)
    if not clone.scope or not outside:
        return []
    return [
        _finding(
            FailureMode.CROSS_AGENT_STAGING,
            clone.where,
            clone.context.id,
            f"{len(outside)} file(s) staged in agent {clone.context.id}'s clone are outside "
            f"its files_scope: unstage them (git restore --staged) and leave them to their "
            f"owner",
            paths=_listed(outside),
            count=len(outside),
            files_scope=list(clone.context.files_scope),
        )
    ]


def _scope_checks(clone: _Clone) -> list[Finding]:
    """P4: modified files and commits outside the files_scope."""
    if not clone.scope:
        return []
    context = clone.context
    findings = []
    modified = clone.scope.outside(clone.state.modified)
    if modified:
        findings.append(
            _finding(
                FailureMode.PRECOMMIT_SIDE_EFFECTS,
                clone.where,
                context.id,
                f"{len(modified)} tracked file(s) outside agent {context.id}'s files_scope "
                f"were changed in its clone (by a hook or formatter?): restore them "
                f"(git restore) or widen the scope",
                paths=_listed(modified),
                count=len(modified),
                files_scope=list(context.files_scope),
            )
        )
    commits = _commits_outside(clone)
    if commits:
        paths = _listed(path for commit in commits for path in commit["paths"])
        findings.append(
            _finding(
                FailureMode.PRECOMMIT_SIDE_EFFECTS,
                clone.where,
                context.id,
                f"{len(commits)} commit(s) on {context.branch} change files outside the "
                f"files_scope (a hook added them?): take those files out of the commits "
                f"before merging, or widen the scope",
                commits=commits[:_LIST_LIMIT],
                paths=paths,
                count=len(commits),
                files_scope=list(context.files_scope),
            )
        )
    return findings


def _commits_outside(clone: _Clone) -> list[dict[str, Any]]:
    """Commits since the recorded base that touch paths outside the scope, newest first.

    Skipped when the branch does not contain its base (P6 says so): the range would then
    hold other people's commits.
    """
    base, tip = clone.context.base_commit, clone.tip
    if tip is None or tip == base or not is_ancestor(clone.git, base, tip):
        return []
    out = clone.git.out(
        "log", "--no-merges", "--no-renames", "--name-only", "-z", "--format=%x01%H",
        tip, f"^{base}", "--",
    )  # fmt: skip
    commits: list[dict[str, Any]] = []
    for token in out.split("\0"):
        if token.startswith("\x01"):
            commits.append({"commit": token[1:], "paths": []})
        elif token and commits:
            commits[-1]["paths"].append(token.removeprefix("\n"))
    found = []
    for commit in commits:
        outside = clone.scope.outside(commit["paths"])
        if outside:
            found.append({"commit": commit["commit"], "paths": _listed(outside)})
    return found


def _guard_check(clone: _Clone) -> list[Finding]:
    """P4: the pre-commit hook git runs in the clone is not uet's guard any more."""
    hook = clone.hooks / "pre-commit"
    try:
        guarded = GUARD_MARK in hook.read_text(encoding="utf-8", errors="replace")
    except OSError:
        guarded = False
    if guarded:
        return []
    return [
        _finding(
            FailureMode.PRECOMMIT_SIDE_EFFECTS,
            clone.where,
            clone.context.id,
            f"agent {clone.context.id}'s clone runs no uet guard before commits ({hook} is "
            f"missing or was replaced): recycle the clone, or restore its hooks and "
            f"core.hooksPath",
            hook=str(hook),
            hooks_path=str(clone.hooks),
        )
    ]


# -- locks ------------------------------------------------------------------------------------


def _stale_locks(
    git_dir: Path, where: str, agent: str | None, stale_after: float, now: float
) -> list[Finding]:
    """P5: lock files older than ``stale_after`` that no live process holds."""
    findings = []
    for lock in lock_files(git_dir):
        try:
            age = max(0.0, now - lock.stat().st_mtime)
        except OSError:  # released while we looked
            continue
        if age < stale_after or lock_in_use(lock, Path(where)):
            continue
        findings.append(
            _finding(
                FailureMode.INDEX_LOCK_CONTENTION,
                where,
                agent,
                f"stale git lock {lock}: {age:.0f} s old and no running process holds it; "
                f"check that no git runs in {where}, then remove it by hand (rm {lock})"
                + (", or recycle the clone (uet agents recycle)" if agent else ""),
                lock=str(lock),
                age_s=round(age, 1),
                stale_after_s=stale_after,
            )
        )
    return findings


# -- base branches ------------------------------------------------------------------------------


def _check_bases(clone: _Clone, base: _Base, targets: _Targets, target: str) -> list[Finding]:
    """P6: the branch lost its recorded base, or the base left the target's history."""
    context, tip = clone.context, clone.tip
    if tip is None:  # no branch at all: P1 reports where HEAD is
        return []
    facts: dict[str, Any] = {
        "branch": context.branch,
        "tip": tip,
        "base_commit": context.base_commit,
    }
    findings = []
    if not is_ancestor(clone.git, context.base_commit, tip):
        findings.append(
            _finding(
                FailureMode.INCONSISTENT_BASE_BRANCHES,
                clone.where,
                context.id,
                f"{context.branch} no longer contains its recorded base "
                f"{context.base_commit[:12]} (rebased or reset behind uet's back): rebase it "
                f"through the merge queue or recycle the agent",
                **facts,
            )
        )
    target_tip = targets.tip(target)
    if target_tip is None:
        return [*findings, _missing_target(clone, base, target, facts)]
    if not targets.contains(target_tip, context.base_commit):
        fork = _merge_base(clone.git, tip, target_tip, alternates=targets.objects)
        findings.append(
            _finding(
                FailureMode.INCONSISTENT_BASE_BRANCHES,
                clone.where,
                context.id,
                f"agent {context.id}'s base {context.base_commit[:12]} is no longer on "
                f"{target}'s history (the target was rewritten): rebase {context.branch} onto "
                f"{target} by hand, or recycle the agent",
                target=target,
                target_tip=target_tip,
                merge_base=fork,
                **facts,
            )
        )
    return findings


def _missing_target(clone: _Clone, base: _Base, target: str, facts: dict[str, Any]) -> Finding:
    return _finding(
        FailureMode.INCONSISTENT_BASE_BRANCHES,
        clone.where,
        clone.context.id,
        f"agent {clone.context.id}'s target branch {target!r} does not exist in {base.where}: "
        f"recreate it or give the agent another target",
        target=target,
        target_tip=None,
        **facts,
    )


def _merge_base(git: Git, one: str, two: str, *, alternates: str | None = None) -> str | None:
    """The best common ancestor, read-only; ``alternates`` lends another repository's objects
    (the base repository's, for a target commit the clone has not fetched)."""
    env = {"GIT_ALTERNATE_OBJECT_DIRECTORIES": alternates} if alternates else None
    found = git.run("merge-base", one, two, check=False, env=env)
    return found.stdout.strip() or None


def _check_agent_branches(base: _Base, targets: _Targets, target: str | None) -> list[Finding]:
    """P6 without agent contexts (CI): every ``agent/*`` branch, local or remote-tracking, must
    contain the target's tip. Branches already merged into the target are left alone."""
    target_tip = None if target is None else targets.tip(target)
    if target is None or target_tip is None:
        return []
    out = base.git.out(
        "for-each-ref", "--format=%(refname)%00%(objectname)", "refs/heads/agent/", "refs/remotes/"
    )
    findings = []
    for line in out.splitlines():
        ref, tip = line.split("\0")
        agent = _agent_of(ref)
        if agent is None or targets.contains(tip, target_tip):
            continue
        fork = _merge_base(base.git, tip, target_tip)
        if fork == tip:  # already merged into the target: nothing to rebase
            continue
        findings.append(
            _finding(
                FailureMode.INCONSISTENT_BASE_BRANCHES,
                base.where,
                agent,
                f"{ref} is not based on the latest {target} (it forks at "
                f"{(fork or 'no common commit')[:12]}): rebase it onto {target} before merging",
                ref=ref,
                tip=tip,
                target=target,
                target_tip=target_tip,
                merge_base=fork,
            )
        )
    return findings


def _agent_of(ref: str) -> str | None:
    """The agent id of ``refs/heads/agent/<id>`` or ``refs/remotes/<remote>/agent/<id>``."""
    parts = ref.split("/")
    if parts[:3] == ["refs", "heads", "agent"] and len(parts) > 3:
        return "/".join(parts[3:])
    if parts[:2] == ["refs", "remotes"] and len(parts) > 4 and parts[3] == "agent":
        return "/".join(parts[4:])
    return None

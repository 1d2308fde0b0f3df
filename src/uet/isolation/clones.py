"""Agent clones: one full, independent git clone per agent, on its own branch.

A clone is made by ``git clone`` of a local path, which hard-links the object files (git's
objects are immutable, so sharing their inodes is safe; the base's gc removing a pack only
drops one link). It is *not* ``clone --shared`` (an alternates file: the base's gc can
corrupt the clone) and not ``git worktree add`` (one shared HEAD namespace, config and hooks).
Each clone has its own HEAD, index, config and hooks, so agents cannot move each other's
branch, stage each other's files or trip over each other's ``index.lock``.

Layout and guarantees::

    .uet/agents/<id>/                the clone; HEAD on agent/<id>, created at the base commit
    .uet/agents/<id>/.git/uet-agent.json   the agent's context (id, base, scope…)
    .uet/agents/<id>/.git/hooks/     the base repository's hooks, plus a guard pre-commit
                                     that refuses a commit on any branch but agent/<id>

Commits name their paths (:meth:`AgentClone.commit`): nothing is swept in implicitly.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import stat
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from uet.contain.rules import Allowances
from uet.errors import UsageError
from uet.isolation.git import Git, GitError

AGENT_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
"""What an agent id may be: it names a directory and a branch (``agent/<id>``)."""

CONTEXT_FILE = "uet-agent.json"
"""The agent's context, inside the clone's git directory (never committed)."""

GUARD_MARK = "uet agent guard"
"""A line in every hook uet writes; how a detector tells uet's hooks from others."""

BUSY_FILE = "uet-busy.flock"
"""Held (``flock``) while a command, a merge or a cleanup works in a clone."""

ARCHIVE_PREFIX = "refs/uet/archive/"
"""Where the work of a removed agent is kept in the base repository."""

_GUARD = """\
#!/bin/sh
# {mark}: commits in this clone belong on {branch}, and nowhere else.
branch=$(git symbolic-ref --quiet --short HEAD)
if [ "$branch" != "{branch}" ]; then
    echo "uet: this clone belongs to agent {agent}: commit on {branch}," \\
         "not on ${{branch:-a detached HEAD}}" >&2
    exit 1
fi
here=$(dirname "$0")
if [ -x "$here/{hook}.base" ]; then
    exec "$here/{hook}.base" "$@"
fi
"""


@dataclass(frozen=True, slots=True)
class AgentContext:
    """Who an agent clone belongs to and where its work started."""

    id: str
    repo: str  # the base repository, absolute
    path: str  # the clone, absolute
    branch: str  # agent/<id>
    base_ref: str  # what the user asked for (a branch name, a tag, a commit)
    base_commit: str  # the commit the branch started from, resolved once
    target: str  # the branch merges go into (the base branch, unless told otherwise)
    files_scope: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    sparse: tuple[str, ...] = ()  # cone-mode directories; empty: a full checkout
    created_at: float = 0.0
    author: str = ""  # "Name <email>" of the clone's commits
    allowances: Allowances = field(default_factory=Allowances)  # what its changes may hold

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        data["allowances"] = self.allowances.to_json()
        data["files_scope"] = list(self.files_scope)
        data["depends_on"] = list(self.depends_on)
        data["sparse"] = list(self.sparse)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AgentContext:
        values = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        values["files_scope"] = tuple(values.get("files_scope") or ())
        values["depends_on"] = tuple(values.get("depends_on") or ())
        values["sparse"] = tuple(values.get("sparse") or ())
        values["allowances"] = Allowances.from_json(values.get("allowances"))
        return cls(**values)


@dataclass(frozen=True, slots=True)
class CloneState:
    """What ``git status`` says of a clone, in parts."""

    branch: str | None  # None: detached HEAD
    head: str | None  # None: no commit yet
    staged: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)  # tracked, changed, not staged
    untracked: list[str] = field(default_factory=list)
    conflicted: list[str] = field(default_factory=list)

    @property
    def dirty(self) -> bool:
        """Uncommitted changes to tracked files (untracked files do not block a rebase)."""
        return bool(self.staged or self.modified or self.conflicted)

    @property
    def changed(self) -> list[str]:
        """Every path with uncommitted work, untracked included, sorted."""
        return sorted({*self.staged, *self.modified, *self.untracked, *self.conflicted})


_HELD: dict[str, tuple[int, int, int]] = {}  # busy file -> (thread, fd, depth)
_HELD_LOCK = threading.Lock()


class AgentBusyError(UsageError):
    """Another command, merge or cleanup is working in the agent's clone right now."""

    def __init__(self, agent_id: str, doing: str) -> None:
        self.agent_id = agent_id
        super().__init__(
            f"agent {agent_id!r} is busy: another uet command works in its clone; "
            f"{doing} when it has finished"
        )


def check_agent_id(agent_id: str) -> str:
    if not AGENT_ID.match(agent_id) or agent_id.endswith((".", ".lock")) or ".." in agent_id:
        raise UsageError(
            f"agent id {agent_id!r}: use 1-64 characters of a-z, 0-9, '.', '_', '-', starting "
            f"with a letter or digit (it names a directory and the branch agent/<id>)"
        )
    return agent_id


def branch_of(agent_id: str) -> str:
    return f"agent/{agent_id}"


def create_clone(
    repo: Path,
    dest: Path,
    agent_id: str,
    *,
    base: str | None = None,
    target: str | None = None,
    files_scope: Sequence[str] = (),
    depends_on: Sequence[str] = (),
    author: str | None = None,
    sparse: Sequence[str] = (),
    now: float | None = None,
    allowances: Allowances | None = None,
) -> AgentClone:
    """Make the clone of ``repo`` for ``agent_id`` at ``dest`` and return it.

    ``base`` (default: the repository's current branch) is resolved to a commit once and
    recorded; ``target`` is the branch merges go into (default: ``base`` when it is a branch,
    else the current branch). ``sparse`` directories make a sparse (cone mode) checkout of
    only those directories and the top-level files: for an agent whose work and tests live
    there, it costs a fraction of a full checkout. On any failure the half-made clone is
    removed (it held nothing yet) and the error says why.
    """
    check_agent_id(agent_id)
    sparse = [_sparse_dir(d) for d in sparse]
    repo = Path(repo).resolve()
    dest = Path(dest).absolute()
    source = Git(repo)
    top = _toplevel(source)
    base_ref, base_commit, base_branch = _resolve_base(source, base)
    target = target or base_branch
    if target is None:
        raise UsageError(
            f"{repo}: HEAD is detached and the base {base_ref!r} is not a branch: "
            f"say which branch merges go into (--into BRANCH)"
        )
    branch = branch_of(agent_id)
    name, email = _author(agent_id, author)
    _claim(dest, agent_id)  # from here on the folder is ours: removed again if anything fails
    try:
        config = {
            "user.name": name,
            "user.email": email,
            "core.hooksPath": str(dest / ".git" / "hooks"),
            "uet.agent": agent_id,
            "gc.autoDetach": "false",
        }
        Git(dest.parent).run(
            "clone",
            "--quiet",
            "--no-checkout",
            *(f"--config={key}={value}" for key, value in config.items()),
            "--",
            str(top),
            str(dest),
        )
        git = Git(dest)
        if sparse:
            git.run("sparse-checkout", "set", "--cone", "--sparse-index", "--", *sparse)
        git.run("checkout", "--quiet", "-b", branch, base_commit)
        _install_hooks(source, dest / ".git" / "hooks", agent_id, branch)
        context = AgentContext(
            id=agent_id,
            repo=str(top),
            path=str(dest),
            branch=branch,
            base_ref=base_ref,
            base_commit=base_commit,
            target=target,
            files_scope=tuple(files_scope),
            depends_on=tuple(depends_on),
            sparse=tuple(sparse),
            created_at=time.time() if now is None else now,
            author=f"{name} <{email}>",
            allowances=allowances or Allowances(),
        )
        clone = AgentClone(context)
        clone.save_context()
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    return clone


def _claim(dest: Path, agent_id: str) -> None:
    """Make ``dest`` as a new, empty folder, atomically: two creators of one agent cannot
    both get it (the loser is told, and never removes the winner's clone)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        dest.mkdir()
    except FileExistsError:
        if any(dest.iterdir()):
            raise UsageError(
                f"{dest} already exists and is not empty: agent {agent_id!r} exists?"
            ) from None
        try:  # an empty leftover: take it over, unless someone else just did
            dest.rmdir()
            dest.mkdir()
        except OSError:
            raise UsageError(f"{dest} is being created by another uet process") from None


def _sparse_dir(path: str) -> str:
    clean = path.strip().strip("/")
    if not clean or clean.startswith("..") or any(c in clean for c in "*?[") or "/../" in clean:
        raise UsageError(
            f"sparse directory {path!r}: give a directory relative to the repository root, "
            f"without wildcards"
        )
    return clean


def _toplevel(git: Git) -> Path:
    found = git.run("rev-parse", "--is-bare-repository", "--show-toplevel", check=False)
    if not found.ok:
        raise UsageError(f"{git.cwd} is not a git repository ({found.stderr.strip()})")
    lines = found.stdout.split("\n")
    return git.cwd if lines[0] == "true" else Path(lines[1])


def _resolve_base(git: Git, base: str | None) -> tuple[str, str, str | None]:
    """(the ref as named, its commit, the branch name when it is a local branch)."""
    if base is None:
        current = git.run("symbolic-ref", "--quiet", "--short", "HEAD", check=False)
        base = current.stdout.strip() if current.ok else "HEAD"
    found = git.run(
        "rev-parse", "--verify", "--quiet", "--end-of-options", f"{base}^{{commit}}", check=False
    )
    if not found.ok or not found.stdout.strip():
        raise UsageError(f"{git.cwd}: base {base!r} is not a commit, branch or tag here")
    commit = found.stdout.strip()
    is_branch = git.ok("show-ref", "--verify", "--quiet", f"refs/heads/{base}")
    return base, commit, base if is_branch else None


def _author(agent_id: str, author: str | None) -> tuple[str, str]:
    if author is None:
        return f"uet agent {agent_id}", f"agent-{agent_id}@uet.invalid"
    matched = re.fullmatch(r"\s*(.+?)\s*<([^<>\s]+)>\s*", author)
    if matched is None:
        raise UsageError(f"author {author!r}: use 'Name <email>'")
    return matched.group(1), matched.group(2)


def _install_hooks(source: Git, hooks: Path, agent_id: str, branch: str) -> None:
    """Copy the base repository's hooks into the clone and put the guard in front."""
    hooks.mkdir(parents=True, exist_ok=True)
    for sample in hooks.glob("*.sample"):
        sample.unlink()
    base_hooks = Path(source.out("rev-parse", "--path-format=absolute", "--git-path", "hooks"))
    if base_hooks.is_dir():
        for hook in sorted(base_hooks.iterdir()):
            if hook.is_file() and not hook.name.endswith(".sample") and os.access(hook, os.X_OK):
                shutil.copy2(hook, hooks / hook.name)
    for name in ("pre-commit", "pre-merge-commit"):
        existing = hooks / name
        if existing.exists():
            existing.rename(hooks / f"{name}.base")
        existing.write_text(
            _GUARD.format(mark=GUARD_MARK, branch=branch, agent=agent_id, hook=name),
            encoding="utf-8",
        )
        existing.chmod(existing.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


class AgentClone:
    """Operations on one agent's clone. Open an existing one with :meth:`open`."""

    def __init__(self, context: AgentContext, *, git: Git | None = None) -> None:
        self.context = context
        self.path = Path(context.path)
        self.git = git or Git(self.path)

    @classmethod
    def open(cls, path: Path) -> AgentClone:
        """The clone at ``path``, from the context it records; UsageError if it has none."""
        file = Path(path) / ".git" / CONTEXT_FILE
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise UsageError(f"{path} is not an agent clone (no .git/{CONTEXT_FILE})") from exc
        except (OSError, ValueError) as exc:
            raise UsageError(f"{file}: unreadable agent context ({exc})") from exc
        context = AgentContext.from_json(data)
        return cls(replace(context, path=str(Path(path).absolute())))

    @property
    def id(self) -> str:
        return self.context.id

    def save_context(self) -> None:
        file = self.path / ".git" / CONTEXT_FILE
        temporary = file.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.context.to_json(), indent=2) + "\n", "utf-8")
        os.replace(temporary, file)

    def rebased(self, base_commit: str) -> None:
        """Record that the agent's branch now starts from ``base_commit``."""
        self.context = replace(self.context, base_commit=base_commit)
        self.save_context()

    # -- reading ----------------------------------------------------------------------------

    def head(self) -> str | None:
        found = self.git.run("rev-parse", "--verify", "--quiet", "HEAD", check=False)
        return found.stdout.strip() or None

    def branch_tip(self) -> str | None:
        found = self.git.run(
            "rev-parse", "--verify", "--quiet", f"refs/heads/{self.context.branch}", check=False
        )
        return found.stdout.strip() or None

    def state(self) -> CloneState:
        return clone_state(self.git)

    def commits_since_base(self) -> int:
        tip = self.branch_tip()
        if tip is None:
            return 0
        return int(self.git.out("rev-list", "--count", tip, f"^{self.context.base_commit}"))

    def changed_files(self, since: str, until: str | None = None) -> list[str]:
        """Paths changed between ``since`` and the branch (both sides of a rename)."""
        return changed_files(self.git, since, until or self.context.branch)

    @contextmanager
    def occupied(self, doing: str) -> Iterator[None]:
        """Hold the clone for one user at a time: a command (``exec``), an agent task's
        attempt, a merge (which may rebase the branch) or a cleanup. Raises
        :class:`AgentBusyError` at once when another process or thread holds it; the holder
        may enter again (an attempt merges its own work). An ``flock``: released by the
        kernel if its holder dies."""
        key = os.path.realpath(self.path / ".git" / BUSY_FILE)
        me = threading.get_ident()
        with _HELD_LOCK:
            holder = _HELD.get(key)
            if holder is not None and holder[0] == me:
                _HELD[key] = (me, holder[1], holder[2] + 1)
            elif holder is not None:
                raise AgentBusyError(self.id, doing)
            else:
                fd = os.open(key, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(fd)
                    raise AgentBusyError(self.id, doing) from None
                _HELD[key] = (me, fd, 1)
        try:
            yield
        finally:
            with _HELD_LOCK:
                owner, held_fd, depth = _HELD[key]
                if depth > 1:
                    _HELD[key] = (owner, held_fd, depth - 1)
                else:
                    del _HELD[key]
                    os.close(held_fd)  # closing releases the lock

    # -- writing ----------------------------------------------------------------------------

    def discard_changes(self) -> None:
        """Throw away uncommitted work (tracked and untracked, not ignored files). Archive it
        first (:func:`archive_work`) unless it is really unwanted."""
        self.git.run("reset", "--quiet", "--hard", "HEAD")
        self.git.run("clean", "--quiet", "-d", "--force")

    def diff(self, paths: Sequence[str]) -> str:
        """The patch of ``paths`` against HEAD (new files included: they are staged)."""
        self.git.run("add", "--", *paths)
        return self.git.run("diff", "--cached", "--binary", "HEAD", "--", *paths).stdout

    def take_over(self, old: Path, tip: str, archive: str | None) -> None:
        """Continue the work of the clone at ``old`` (being replaced): its branch tip, and the
        uncommitted work kept in the base repository's ``archive`` commit."""
        self.git.run(
            "fetch", "--quiet", "--no-tags", str(old), f"+{self.context.branch}:refs/uet/recycled"
        )
        self.git.run("reset", "--quiet", "--hard", tip)
        if archive is not None and archive != tip:
            repo = self.context.repo
            self.git.run("fetch", "--quiet", "--no-tags", repo, f"+{archive}:refs/uet/recycled")
            self.git.run("restore", "--source=refs/uet/recycled", "--worktree", "--", ".")
        self.git.run("update-ref", "-d", "refs/uet/recycled")

    def commit(self, paths: Sequence[str], message: str) -> str | None:
        """Commit exactly ``paths`` (added, changed or deleted) on the agent's branch.

        Returns the new commit, or None when those paths hold no change. Other staged or
        changed files are left as they are: nothing is committed implicitly.
        """
        if not paths:
            raise UsageError("commit: name the paths to commit (nothing is added implicitly)")
        self.git.run("add", "--", *paths)
        if self.git.ok("diff", "--cached", "--quiet", "HEAD", "--", *paths):
            return None
        self.git.run("commit", "--quiet", "-m", message, "--", *paths)
        return self.head()


def clone_state(git: Git) -> CloneState:
    """Branch, head and uncommitted paths of the repository ``git`` runs in."""
    found = git.out("status", "--porcelain=v2", "--branch", "-z", "--untracked-files=all")
    branch: str | None = None
    head: str | None = None
    staged: list[str] = []
    modified: list[str] = []
    untracked: list[str] = []
    conflicted: list[str] = []
    entries = found.split("\0")
    i = 0
    while i < len(entries):
        entry = entries[i]
        i += 1
        if entry.startswith("# branch.oid "):
            oid = entry.removeprefix("# branch.oid ")
            head = None if oid == "(initial)" else oid
        elif entry.startswith("# branch.head "):
            name = entry.removeprefix("# branch.head ")
            branch = None if name == "(detached)" else name
        elif entry.startswith(("1 ", "2 ")):
            renamed = entry.startswith("2 ")  # one more field (the score), then the old path
            fields = entry.split(" ", 9 if renamed else 8)
            xy, paths = fields[1], [fields[-1]]
            if renamed and i < len(entries):
                paths.append(entries[i])  # a rename changes both its paths
                i += 1
            if xy[0] != ".":
                staged.extend(paths)
            if xy[1] != ".":
                modified.extend(paths)
        elif entry.startswith("u "):
            conflicted.append(entry.split(" ", 10)[10])
        elif entry.startswith("? "):
            untracked.append(entry[2:])
    return CloneState(branch, head, staged, modified, untracked, conflicted)


def changed_files(git: Git, since: str, until: str) -> list[str]:
    """Paths that differ between two commits, renames as a deletion and an addition."""
    out = git.out("diff", "--name-only", "--no-renames", "-z", since, until, "--")
    return [path for path in out.split("\0") if path]


def is_ancestor(git: Git, older: str, newer: str) -> bool:
    return git.ok("merge-base", "--is-ancestor", older, newer)


def ensure_commit(git: Git, ref: str) -> str:
    """The commit ``ref`` names here; GitError naming the ref when there is none."""
    found = git.run(
        "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}", check=False
    )
    if not found.ok or not found.stdout.strip():
        raise GitError(found.argv, git.cwd, found.returncode or 1, f"{ref!r} is not a commit")
    return found.stdout.strip()


def work_tips(clone: AgentClone) -> list[str]:
    """Every commit that holds work of the clone: HEAD (detached or not), every local
    branch, every stash entry."""
    git = clone.git
    tips = [clone.head()]
    tips += git.out("for-each-ref", "--format=%(objectname)", "refs/heads/").split()
    stashes = git.run("log", "--walk-reflogs", "--format=%H", "refs/stash", check=False)
    if stashes.ok:
        tips += stashes.stdout.split()
    return [tip for tip in dict.fromkeys(tips) if tip]


def unmerged_commits(clone: AgentClone, base: Git) -> int:
    """Commits of the clone (on HEAD, any branch, any stash entry) that no branch of the
    base repository contains: the work a removal would lose."""
    tips = work_tips(clone)
    if not tips:
        return 0
    clone.git.run(
        "fetch", "--quiet", "--no-tags", "--prune", str(base.cwd), "+refs/heads/*:refs/uet/base/*"
    )
    count = clone.git.out("rev-list", "--count", *tips, "--not", "--glob=refs/uet/base/*")
    return int(count)


def archive_work(
    clone: AgentClone, base: Git, *, reason: str, unmerged: int | None = None
) -> str | None:
    """Keep everything of the clone that the base repository lacks under
    ``refs/uet/archive/<id>`` in the base repository; returns that commit, or None when
    there was nothing to keep.

    The archive commit's parents are every commit holding work (:func:`work_tips`: HEAD,
    each branch, each stash entry), so all of it stays reachable; uncommitted work
    (untracked files included, ignored files not) is its tree, snapshotted with a private
    index so the clone's own index is not touched. An earlier archive of the same agent id
    stays reachable from the new one. Nothing is deleted here. ``unmerged``: the caller's
    :func:`unmerged_commits`, when it has just counted them.
    """
    state = clone.state()
    if unmerged is None:
        unmerged = unmerged_commits(clone, base)
    if not state.changed and not unmerged:
        return None
    git = clone.git
    tips = work_tips(clone)
    head = state.head
    if state.changed:
        index = clone.path / ".git" / "uet-archive-index"
        env = {"GIT_INDEX_FILE": str(index)}
        try:
            git.run("read-tree", *(["HEAD"] if head else ["--empty"]), env=env)
            # A private index and every path: this snapshot exists to lose nothing.
            git.run("add", "--all", "--", ".", env=env)
            tree = git.out("write-tree", env=env)
        finally:
            index.unlink(missing_ok=True)
        what = "uncommitted work"
    else:
        tree = f"{tips[0]}^{{tree}}"
        what = "commits"
    if state.changed or len(tips) > 1:
        keep = git.out(
            "commit-tree",
            tree,
            *(arg for tip in tips for arg in ("-p", tip)),
            "-m",
            f"uet archive of agent {clone.id}: {what} ({reason})\n\n"
            f"Parents: HEAD, the clone's branches and stash entries.",
        )
    else:
        keep = tips[0]
    outgoing = "refs/uet/archive-out"
    git.run("update-ref", outgoing, keep)
    incoming = f"refs/uet/incoming/archive-{clone.id}"
    base.run("fetch", "--quiet", "--no-tags", str(clone.path), f"+{outgoing}:{incoming}")
    ref = ARCHIVE_PREFIX + clone.id
    final = keep
    earlier = base.run("rev-parse", "--verify", "--quiet", ref, check=False).stdout.strip()
    if earlier and not is_ancestor(base, earlier, keep):
        final = base.out(
            "commit-tree",
            f"{keep}^{{tree}}",
            "-p",
            keep,
            "-p",
            earlier,
            "-m",
            f"uet archive of agent {clone.id} (keeps the earlier archive as second parent)",
        )
    base.run("update-ref", "-m", f"uet: archive agent {clone.id}", ref, final)
    base.run("update-ref", "-d", incoming)
    git.run("update-ref", "-d", outgoing)
    return final

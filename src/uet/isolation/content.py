"""Reading what a change contains, for the content rules (:mod:`uet.contain.rules`).

Two sources, one result (:class:`Change`: the entries, the resulting tree, its symlinks):

* :func:`worktree_change` — a clone's uncommitted work, as the agent left it: each changed
  path ``lstat``-ed (never followed), its mode before from ``git ls-tree HEAD``;
* :func:`commit_change` — what a branch brings between two commits (``git diff --raw``),
  as ``uet agents merge`` sees it.

:func:`check_worktree` and :func:`check_commits` run the rules on them: the one checker tool
tasks, bundles, merges (and ``uet fix``'s patches) go through.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from uet.contain.rules import (
    MODE_EXECUTABLE,
    MODE_FILE,
    MODE_GITLINK,
    MODE_SYMLINK,
    Entry,
    Policy,
    Violation,
    check,
)
from uet.isolation.git import Git

BINARY_SNIFF_BYTES = 8000
"""Bytes read from the start of a file to tell binary from text (git's own heuristic)."""


@dataclass(frozen=True, slots=True)
class Change:
    entries: list[Entry]
    tree: list[str] = field(default_factory=list)  # paths of the resulting tree
    links: dict[str, str] = field(default_factory=dict)  # its symlinks: path -> target


def check_worktree(git: Git, changed: Sequence[str], policy: Policy) -> list[Violation]:
    """The rules a clone's uncommitted ``changed`` paths break."""
    change = worktree_change(git, changed, with_links=policy.allow_symlinks)
    return check(change.entries, policy, tree=change.tree, links=change.links)


def check_commits(git: Git, fork: str, tip: str, policy: Policy) -> list[Violation]:
    """The rules the commits ``fork..tip`` break (what a merge would bring)."""
    change = commit_change(git, fork, tip, with_links=policy.allow_symlinks)
    return check(change.entries, policy, tree=change.tree, links=change.links)


def worktree_change(git: Git, changed: Sequence[str], *, with_links: bool = False) -> Change:
    root = Path(git.cwd)
    head = _tree(git, "HEAD")
    staged = _index_modes(git, changed)
    entries: list[Entry] = []
    for raw in changed:
        path = raw.rstrip("/")
        old = head.get(path, (None, ""))[0]
        entries.append(_worktree_entry(root, path, old, staged.get(path)))
    removed = {e.path for e in entries if e.mode is None}
    tree = [p for p in head if p not in removed] + [e.path for e in entries if e.mode]
    links = _link_targets(git, head) if with_links else {}
    for entry in entries:
        links.pop(entry.path, None)
    return Change(entries, list(dict.fromkeys(tree)), links)


def commit_change(git: Git, fork: str, tip: str, *, with_links: bool = False) -> Change:
    raw = git.out("diff", "--raw", "-z", "--no-renames", "--full-index", fork, tip, "--")
    fields = raw.split("\0")
    rows: list[tuple[int | None, int | None, str, str]] = []
    for i in range(0, len(fields) - 1, 2):
        meta, path = fields[i], fields[i + 1]
        if not meta.startswith(":"):
            continue
        old_mode, new_mode, _old_sha, new_sha, _status = meta[1:].split(" ")
        rows.append((_mode(old_mode), _mode(new_mode), new_sha, path))
    sizes = _sizes(git, [sha for _o, new, sha, _p in rows if new not in (None, MODE_GITLINK)])
    binary = _binary_paths(git, fork, tip)
    entries = []
    for old, new, sha, path in rows:
        target = _blob(git, sha) if new == MODE_SYMLINK else None
        size = sizes.get(sha, 0)
        entries.append(Entry(path, new, old, size, path in binary, target))
    after = _tree(git, tip)
    links = _link_targets(git, after) if with_links else {}
    return Change(entries, list(after), links)


def _worktree_entry(root: Path, path: str, old: int | None, staged: int | None) -> Entry:
    full = root / path
    try:
        info = full.lstat()
    except FileNotFoundError:
        return Entry(path, None, old)
    if staged == MODE_GITLINK or stat.S_ISDIR(info.st_mode):
        return Entry(path, MODE_GITLINK, old)
    if stat.S_ISLNK(info.st_mode):
        return Entry(path, MODE_SYMLINK, old, target=os.readlink(full))
    mode = MODE_EXECUTABLE if info.st_mode & stat.S_IXUSR else MODE_FILE
    return Entry(path, mode, old, info.st_size, _sniff_binary(full))


def _sniff_binary(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return False
    with os.fdopen(fd, "rb") as handle:
        return b"\0" in handle.read(BINARY_SNIFF_BYTES)


def _mode(text: str) -> int | None:
    value = int(text, 8)
    return value or None


def _tree(git: Git, commit: str) -> dict[str, tuple[int | None, str]]:
    """path -> (mode, blob) of every entry of ``commit``'s tree (empty without commits)."""
    found = git.run("ls-tree", "-r", "-z", "--full-tree", commit, check=False)
    tree: dict[str, tuple[int | None, str]] = {}
    for line in found.stdout.split("\0") if found.ok else ():
        if "\t" not in line:
            continue
        meta, path = line.split("\t", 1)
        mode, _kind, sha = meta.split(" ")
        tree[path] = (_mode(mode), sha)
    return tree


def _index_modes(git: Git, paths: Sequence[str]) -> dict[str, int | None]:
    if not paths:
        return {}
    clean = [p.rstrip("/") for p in paths]
    found = git.run("ls-files", "-s", "-z", "--", *clean, check=False)
    modes: dict[str, int | None] = {}
    for line in found.stdout.split("\0") if found.ok else ():
        if "\t" in line:
            meta, path = line.split("\t", 1)
            modes[path] = _mode(meta.split(" ")[0])
    return modes


def _link_targets(git: Git, tree: dict[str, tuple[int | None, str]]) -> dict[str, str]:
    return {path: _blob(git, sha) for path, (mode, sha) in tree.items() if mode == MODE_SYMLINK}


def _blob(git: Git, sha: str) -> str:
    return git.run("cat-file", "blob", sha, check=False).stdout


def _sizes(git: Git, shas: Sequence[str]) -> dict[str, int]:
    if not shas:
        return {}
    found = git.run(
        "cat-file", "--batch-check=%(objectname) %(objectsize)", input="\n".join(shas) + "\n"
    )
    sizes: dict[str, int] = {}
    for line in found.stdout.splitlines():
        sha, _, size = line.partition(" ")
        if size.isdigit():
            sizes[sha] = int(size)
    return sizes


def _binary_paths(git: Git, fork: str, tip: str) -> set[str]:
    out = git.out("diff", "--numstat", "-z", "--no-renames", fork, tip, "--")
    return {row.split("\t", 2)[2] for row in out.split("\0") if row.startswith("-\t-\t")}

"""Content rules: what an agent's change may contain, whatever its files scope says.

Scope checks look at *which* paths changed; these rules look at *what* they became. One
:func:`check` takes the changed entries (path, git mode before and after, size, binary or
not, a symlink's target) and a :class:`Policy`, and returns every :class:`Violation`,
each naming the path and the :class:`Rule`:

==================  ==========================================================================
rule                refused
==================  ==========================================================================
symlink             a symlink (mode 120000), unless the task sets ``allow_symlinks: true``
symlink_target      an allowed symlink whose target, every component resolved, leaves the
                    repository or the task's scope, or lands on a protected path
gitlink             a gitlink (mode 160000): a submodule or a nested repository
executable          a file turned executable that the task's ``executables`` does not name
binary              a new binary file (a NUL byte in its first 8000 bytes, git's test), unless
                    ``allow_binary: true``
too_large           a file over ``max_file_bytes`` (default 5 MiB)
case_collision      two paths equal but for case (``README.md``, ``readme.md``): one file on
                    a case-insensitive file system
unicode_collision   two paths equal after Unicode normalisation (NFC, NFD): one file on macOS
control_character   a path with a control character (newline, escape, DEL…)
dot_dot             a ``..`` or ``.`` component, an empty component, or an absolute path
leading_dash        a component starting with ``-`` (read as an option by many tools)
==================  ==========================================================================

Nothing here runs git or touches a file system: the entries come from
:mod:`uet.isolation.content` (a clone's working tree, or two commits).
"""

from __future__ import annotations

import enum
import posixpath
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from uet import defaults
from uet.scope import FileScope, ProtectedPaths

MODE_FILE = 0o100644
MODE_EXECUTABLE = 0o100755
MODE_SYMLINK = 0o120000
MODE_GITLINK = 0o160000

MAX_LINK_HOPS = 40
"""Symlinks followed while resolving one target before it counts as a loop (Linux: 40)."""


class Rule(enum.StrEnum):
    """Why a changed path was refused (see the module docstring)."""

    SYMLINK = "symlink"
    SYMLINK_TARGET = "symlink_target"
    GITLINK = "gitlink"
    EXECUTABLE = "executable"
    BINARY = "binary"
    TOO_LARGE = "too_large"
    CASE_COLLISION = "case_collision"
    UNICODE_COLLISION = "unicode_collision"
    CONTROL_CHARACTER = "control_character"
    DOT_DOT = "dot_dot"
    LEADING_DASH = "leading_dash"
    PROTECTED = "protected"


@dataclass(frozen=True, slots=True)
class Entry:
    """One changed path: its git mode after (None: deleted) and before (None: new)."""

    path: str
    mode: int | None
    old_mode: int | None = None
    size: int = 0
    binary: bool = False
    target: str | None = None  # a symlink's target, as written

    @property
    def added(self) -> bool:
        return self.old_mode is None and self.mode is not None


@dataclass(frozen=True, slots=True)
class Violation:
    path: str
    rule: Rule
    detail: str

    def __str__(self) -> str:
        return f"{self.path} ({self.rule.value}: {self.detail})"


@dataclass(frozen=True, slots=True)
class Allowances:
    """What a task allows beyond the rules' defaults (task fields of the same names); kept
    with an agent's clone so that its merge checks the same."""

    allow_symlinks: bool = False
    allow_binary: bool = False
    executables: tuple[str, ...] = ()  # patterns of files the agent may make executable
    max_file_bytes: int = defaults.MAX_FILE_BYTES

    def to_json(self) -> dict[str, object]:
        return {
            "allow_symlinks": self.allow_symlinks,
            "allow_binary": self.allow_binary,
            "executables": list(self.executables),
            "max_file_bytes": self.max_file_bytes,
        }

    @classmethod
    def from_json(cls, data: object) -> Allowances:
        if not isinstance(data, dict):
            return cls()
        return cls(
            allow_symlinks=bool(data.get("allow_symlinks", False)),
            allow_binary=bool(data.get("allow_binary", False)),
            executables=tuple(str(p) for p in data.get("executables") or ()),
            max_file_bytes=int(data.get("max_file_bytes") or defaults.MAX_FILE_BYTES),
        )

    def policy(self, scope: Sequence[str], protected: Sequence[str]) -> Policy:
        return Policy(
            scope=FileScope(scope),
            protected=ProtectedPaths(protected),
            allow_symlinks=self.allow_symlinks,
            allow_binary=self.allow_binary,
            executables=FileScope(self.executables),
            max_file_bytes=self.max_file_bytes,
        )


@dataclass(frozen=True, slots=True)
class Policy:
    """What one task allows its agent (task fields of the same names)."""

    scope: FileScope = field(default_factory=lambda: FileScope(()))
    protected: ProtectedPaths = field(
        default_factory=lambda: ProtectedPaths(defaults.PROTECTED_PATHS)
    )
    allow_symlinks: bool = False
    allow_binary: bool = False
    executables: FileScope = field(default_factory=lambda: FileScope(()))
    max_file_bytes: int = defaults.MAX_FILE_BYTES

    def may_be_executable(self, path: str) -> bool:
        return bool(self.executables) and self.executables.allows(path)


def path_problem(path: str) -> tuple[Rule, str] | None:
    """The first rule a path breaks by its name alone (None: a sound name)."""
    for char in path:
        if unicodedata.category(char) == "Cc" or char in "\u2028\u2029":
            return Rule.CONTROL_CHARACTER, f"control character {char!r} in the path"
    if path.startswith("/"):
        return Rule.DOT_DOT, "an absolute path"
    for part in path.split("/"):
        if part in ("", ".", ".."):
            return Rule.DOT_DOT, f"a {part or 'empty'!r} component"
        if part.startswith("-"):
            return Rule.LEADING_DASH, f"component {part!r} starts with '-'"
    return None


def fold(path: str) -> str:
    """The name a case-insensitive, normalising file system sees (NFC, then case-folded)."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", path).casefold())


def collisions(added: Iterable[str], tree: Iterable[str]) -> list[Violation]:
    """Added paths (or one of their folders) that fold onto another spelling in ``tree``
    (the resulting tree, the added paths included) or among themselves."""
    spellings: dict[str, set[str]] = {}
    for path in tree:
        for prefix in _prefixes(path):
            spellings.setdefault(fold(prefix), set()).add(prefix)
    found: list[Violation] = []
    for path in dict.fromkeys(added):
        for prefix in _prefixes(path):
            others = sorted(spellings.get(fold(prefix), set()) - {prefix})
            if not others:
                continue
            other = others[0]
            same_form = unicodedata.normalize("NFC", other) == unicodedata.normalize("NFC", prefix)
            rule = Rule.UNICODE_COLLISION if same_form else Rule.CASE_COLLISION
            what = "Unicode normalisation" if same_form else "case"
            found.append(Violation(path, rule, f"{prefix!r} and {other!r} differ only by {what}"))
            break
    return found


def _prefixes(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def resolve_link(path: str, target: str, links: Mapping[str, str]) -> str | None:
    """Where the symlink at ``path`` (repository-relative) pointing to ``target`` ends,
    every component resolved through ``links`` (path -> target of the repository's other
    symlinks): a repository-relative path, ``""`` for the root, or None when it leaves the
    repository (an absolute target, too many ``..``) or loops."""
    if target.startswith("/"):
        return None
    pending = [*posixpath.dirname(path).split("/"), *target.split("/")]
    pending = [part for part in pending if part]
    resolved: list[str] = []
    hops = 0
    while pending:
        part = pending.pop(0)
        if part == ".":
            continue
        if part == "..":
            if not resolved:
                return None
            resolved.pop()
            continue
        here = "/".join([*resolved, part])
        if here in links:
            hops += 1
            if hops > MAX_LINK_HOPS or links[here].startswith("/"):
                return None
            pending = [p for p in links[here].split("/") if p] + pending
            continue
        resolved.append(part)
    return "/".join(resolved)


Contents = Callable[[str], tuple[str | None, str | None]]


def check(
    entries: Sequence[Entry],
    policy: Policy,
    *,
    tree: Iterable[str] = (),
    links: Mapping[str, str] | None = None,
    contents: Contents | None = None,
) -> list[Violation]:
    """Every rule the change breaks, one violation per path (the first rule it breaks).

    ``tree``: the paths of the resulting tree (for collisions); ``links``: every symlink of
    the resulting tree, path -> target (for resolving targets); ``contents``: the text of a
    path before and after, for protected TOML tables (see :class:`uet.scope.ProtectedPaths`).
    """
    links = dict(links or {})
    links.update({e.path: e.target for e in entries if e.mode == MODE_SYMLINK and e.target})
    found: dict[str, Violation] = {}

    def refuse(path: str, rule: Rule, detail: str) -> None:
        found.setdefault(path, Violation(path, rule, detail))

    for entry in entries:
        problem = path_problem(entry.path)
        if problem is not None:
            refuse(entry.path, *problem)
            continue
        if entry.mode is None:
            continue
        detail = _entry_problem(entry, policy, links)
        if detail is not None:
            refuse(entry.path, *detail)
    protected = (  # with the texts only: a FILE[table] entry needs them to tell a change
        policy.protected.violations([e.path for e in entries], policy.scope, contents)
        if contents is not None
        else []
    )
    for path, entry_text in protected:
        refuse(path, Rule.PROTECTED, f"protected by {entry_text!r}, not named by files_scope")
    added = [e.path for e in entries if e.added and e.path not in found]
    for violation in collisions(added, {*tree, *added}):
        refuse(violation.path, violation.rule, violation.detail)
    order = {e.path: i for i, e in enumerate(entries)}
    return sorted(found.values(), key=lambda v: order.get(v.path, len(order)))


def _entry_problem(
    entry: Entry, policy: Policy, links: Mapping[str, str]
) -> tuple[Rule, str] | None:
    mode = entry.mode
    if mode == MODE_GITLINK:
        return Rule.GITLINK, "a submodule or nested repository (mode 160000)"
    if mode == MODE_SYMLINK:
        return _link_problem(entry, policy, links)
    turned = mode == MODE_EXECUTABLE and entry.old_mode != MODE_EXECUTABLE
    if turned and not policy.may_be_executable(entry.path):
        return Rule.EXECUTABLE, "made executable; the task's executables do not name it"
    if entry.size > policy.max_file_bytes:
        return Rule.TOO_LARGE, f"{entry.size} bytes, over max_file_bytes {policy.max_file_bytes}"
    if entry.binary and entry.added and not policy.allow_binary:
        return Rule.BINARY, "a new binary file; the task does not set allow_binary"
    return None


def _link_problem(
    entry: Entry, policy: Policy, links: Mapping[str, str]
) -> tuple[Rule, str] | None:
    target = entry.target or ""
    if not policy.allow_symlinks:
        return Rule.SYMLINK, f"a symlink to {target!r}; the task does not set allow_symlinks"
    resolved = resolve_link(entry.path, target, links)
    if resolved is None:
        return Rule.SYMLINK_TARGET, f"target {target!r} resolves outside the repository (or loops)"
    if not resolved or not policy.scope.allows(resolved):
        return Rule.SYMLINK_TARGET, f"target {target!r} resolves to {resolved!r}, outside scope"
    for protected in policy.protected.entries:
        if protected.covers(resolved) and not policy.scope.names(resolved, protected.pattern):
            return Rule.SYMLINK_TARGET, f"target {target!r} resolves to protected {resolved!r}"
    return None

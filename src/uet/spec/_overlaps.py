"""Two bundles that claim one file and may run at the same time: run one after the other.

The originals' CLI refused any two bundles whose ``files_scope`` share a path (their loader
did not look), although their own folder has such pairs (ws-08 and ws-26 both claim
``aider/engine.py``). uet serialises instead: bundles that share a path, where neither
depends (transitively) on the other, are put into one ``conflict_group`` (their own, when
one of them has one; else ``files-scope:<first id>``), so the scheduler never runs them at
once, and a warning names the path. Only when the pair already sits in two different
groups is it an error (one task has one group). Paths are compared as the originals did:
``\\`` as ``/``, outer slashes dropped; ``files_create`` is not compared (new files).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from uet.errors import Problem
from uet.spec._checks import Loaded

IMPLICIT_GROUP = "files-scope:{}"


def serialise_overlaps(
    loaded: Sequence[Loaded],
) -> tuple[list[Loaded], list[Problem], list[Problem]]:
    """``(loaded with groups set, warnings, problems)`` for bundles claiming one path."""
    bundles = [item for item in loaded if item.origin.format.name == "legacy bundle"]
    deps = {item.spec.id: item.spec.depends_on for item in loaded}
    owners: dict[str, list[Loaded]] = defaultdict(list)
    for item in bundles:
        for pattern in _own_scope(item):
            owners[_normal(pattern)].append(item)
    joined = _UnionFind()
    warnings: list[Problem] = []
    for path, claims in sorted(owners.items()):
        for index, item in enumerate(claims):
            for other in claims[:index]:
                if _ordered(deps, item.spec.id, other.spec.id):
                    continue
                joined.union(item.spec.id, other.spec.id)
                warnings.append(_warning(path, item, other))
    groups, problems = _groups(joined, {item.spec.id: item for item in bundles})
    return [_grouped(item, groups.get(item.spec.id)) for item in loaded], warnings, problems


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, node: str) -> str:
        root = self.parent.setdefault(node, node)
        while root != self.parent[root]:
            root = self.parent[root]
        self.parent[node] = root
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def components(self) -> list[list[str]]:
        by_root: dict[str, list[str]] = defaultdict(list)
        for node in self.parent:
            by_root[self.find(node)].append(node)
        return [sorted(members) for members in by_root.values()]


def _groups(
    joined: _UnionFind, bundles: Mapping[str, Loaded]
) -> tuple[dict[str, str], list[Problem]]:
    groups: dict[str, str] = {}
    problems: list[Problem] = []
    for members in joined.components():
        own = sorted({g for m in members if (g := bundles[m].spec.tasks[0].conflict_group)})
        if len(own) > 1:
            item = bundles[members[0]]
            message = (
                f"shares files with bundles of the conflict groups {', '.join(own)} "
                f"({', '.join(members)}), which may run at the same time: make one depend on "
                f"the other, or give them one conflict_group"
            )
            problems.append(Problem(item.origin.file, item.origin.path("files_scope"), message))
            continue
        group = own[0] if own else IMPLICIT_GROUP.format(members[0])
        groups.update(dict.fromkeys(members, group))
    return groups, problems


def _grouped(item: Loaded, group: str | None) -> Loaded:
    if group is None or item.spec.tasks[0].conflict_group == group:
        return item
    (task,) = item.spec.tasks
    spec = item.spec.model_copy(
        update={"tasks": [task.model_copy(update={"conflict_group": group})]}
    )
    return Loaded(spec, item.origin)


def _own_scope(item: Loaded) -> list[str]:
    """The bundle's ``files_scope`` (its task's scope less what only ``files_create`` added)."""
    (task,) = item.spec.tasks  # a bundle is one task
    created = set(item.spec.metadata.get("files_create", ()))
    return [pattern for pattern in task.files_scope if pattern not in created]


def _normal(path: str) -> str:
    return path.replace("\\", "/").strip("/")


def _ordered(deps: Mapping[str, Sequence[str]], a: str, b: str) -> bool:
    return _reaches(deps, a, b) or _reaches(deps, b, a)


def _reaches(deps: Mapping[str, Sequence[str]], start: str, goal: str) -> bool:
    """Whether ``start`` depends on ``goal``, directly or through others."""
    stack, seen = list(deps.get(start, ())), set()
    while stack:
        node = stack.pop()
        if node == goal:
            return True
        if node not in seen:
            seen.add(node)
            stack.extend(deps.get(node, ()))
    return False


def _warning(path: str, item: Loaded, other: Loaded) -> Problem:
    where = "" if other.origin.file == item.origin.file else f" ({other.origin.file})"
    message = (
        f"{path!r} is also in the files_scope of {other.spec.id}{where}, which does not "
        f"depend on it nor it on {other.spec.id}: the two run one after the other"
    )
    return Problem(item.origin.file, item.origin.path("files_scope"), message)

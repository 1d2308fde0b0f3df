"""Two bundles that claim one file and may run at the same time: refused, as the originals did.

The originals refused any two bundles whose ``files_scope`` share a path. uet refuses the
pairs that could actually collide: neither depends (transitively) on the other and they do
not share a ``conflict_group`` (which makes the scheduler run them one after the other).
Paths are compared as the originals compared them: ``\\`` as ``/``, outer slashes dropped.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from uet.errors import Problem
from uet.spec._checks import Loaded


def scope_overlaps(loaded: Sequence[Loaded]) -> list[Problem]:
    """One problem per path and pair of bundles that claim it, unordered and ungrouped
    (``files_scope`` and ``files_create`` alike: both are what the agent may write)."""
    bundles = [item for item in loaded if item.origin.format.name == "legacy bundle"]
    if len(bundles) < 2:
        return []
    owners: dict[str, list[Loaded]] = defaultdict(list)
    for item in bundles:
        for pattern in _own_scope(item):
            owners[_normal(pattern)].append(item)
    deps = {item.spec.id: item.spec.depends_on for item in loaded}
    problems: list[Problem] = []
    for path, claims in sorted(owners.items()):
        for index, item in enumerate(claims):
            for other in claims[:index]:
                if _ordered(deps, item.spec.id, other.spec.id) or _grouped(item, other):
                    continue
                problems.append(_problem(path, item, other))
    return problems


def _own_scope(item: Loaded) -> list[str]:
    (task,) = item.spec.tasks  # a bundle is one task
    return list(task.files_scope)


def _normal(path: str) -> str:
    return path.replace("\\", "/").strip("/")


def _grouped(a: Loaded, b: Loaded) -> bool:
    group = a.spec.tasks[0].conflict_group
    return group is not None and group == b.spec.tasks[0].conflict_group


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


def _problem(path: str, item: Loaded, other: Loaded) -> Problem:
    where = "" if other.origin.file == item.origin.file else f" ({other.origin.file})"
    message = (
        f"{path!r} is also in the files_scope of {other.spec.id}{where}, which may run at "
        f"the same time: make one depend on the other, or give both one conflict_group"
    )
    return Problem(item.origin.file, item.origin.path("files_scope"), message)

"""Shared helpers of the spec tests: real files, the problems a load reports, random DAGs."""

from __future__ import annotations

import itertools
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import strategies as st

from uet.errors import Problem, SpecError


def write(folder: Path, name: str, text: str) -> Path:
    """Write ``text`` (dedented) to ``folder/name`` and return the path."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def problems_of(load: Callable[..., Any], *args: Any, **kwargs: Any) -> list[Problem]:
    """The problems of the SpecError that ``load(*args)`` must raise."""
    with pytest.raises(SpecError) as info:
        load(*args, **kwargs)
    return info.value.problems


def triples(problems: list[Problem]) -> list[tuple[str, str, str]]:
    """Problems as ``(file name, key path, message)``, file names without their folder."""
    return [(Path(p.file).name, p.path, p.message) for p in problems]


def find(problems: list[Problem], path: str) -> Problem:
    """The one problem at ``path``."""
    found = [problem for problem in problems if problem.path == path]
    assert len(found) == 1, f"expected one problem at {path!r}, got {problems}"
    return found[0]


@st.composite
def dags(draw: st.DrawFn, max_nodes: int = 25) -> dict[str, list[str]]:
    """Random acyclic graphs: node i may only depend on nodes drawn before it; names are
    random, so the name order says nothing about the dependency order."""
    names = draw(
        st.lists(
            st.from_regex(r"[a-z][a-z0-9]{0,4}", fullmatch=True),
            min_size=1,
            max_size=max_nodes,
            unique=True,
        )
    )
    return {
        name: draw(st.lists(st.sampled_from(names[:i]), unique=True)) if i else []
        for i, name in enumerate(names)
    }


def with_back_edge(data: st.DataObject, deps: dict[str, list[str]]) -> dict[str, list[str]]:
    """The graph plus one edge that closes a cycle: an ancestor made to depend on its
    descendant."""
    with_deps = sorted(node for node, node_deps in deps.items() if node_deps)
    descendant = data.draw(st.sampled_from(with_deps)) if with_deps else next(iter(deps))
    ancestors = sorted(_reachable(deps, descendant) | {descendant})
    ancestor = data.draw(st.sampled_from(ancestors))
    cyclic = {node: list(node_deps) for node, node_deps in deps.items()}
    cyclic[ancestor].append(descendant)
    return cyclic


def _reachable(deps: dict[str, list[str]], start: str) -> set[str]:
    seen: set[str] = set()
    stack = list(deps[start])
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(deps.get(node, ()))
    return seen


def assert_valid_order(deps: dict[str, list[str]], order: list[str]) -> None:
    assert sorted(order) == sorted(deps)
    position = {node: i for i, node in enumerate(order)}
    for node, node_deps in deps.items():
        for dep in node_deps:
            assert position[dep] < position[node], f"{dep} must come before {node}"


def assert_real_cycle(deps: dict[str, list[str]], cycle: list[str]) -> None:
    assert len(cycle) >= 2
    assert cycle[0] == cycle[-1]
    assert len(set(cycle[:-1])) == len(cycle) - 1, "a cycle visits each node once"
    for node, dep in itertools.pairwise(cycle):
        assert dep in deps[node], f"{node} -> {dep} is not an edge"

"""Dependency graphs as plain mappings: ordering them and finding their cycles.

A graph is a ``Mapping[str, Sequence[str]]`` from each node to the nodes it depends on
(its dependencies run first). A dependency that is not a key of the mapping is a node
without dependencies of its own. Every function here is pure and deterministic: the same
graph gives the same answer whatever the order of its keys, and none of them recurses, so
graphs of hundreds of thousands of nodes are fine.

A cycle is written as a path that returns to its start, ``[a, b, c, a]``, where each node
depends on the next one (``b`` is in ``deps[a]``, ``c`` in ``deps[b]``, ``a`` in ``deps[c]``).
"""

from __future__ import annotations

import heapq
from collections import defaultdict, deque
from collections.abc import Iterator, Mapping, Sequence

Graph = Mapping[str, Sequence[str]]


def topological_order(deps: Graph) -> list[str]:
    """Every node, each after all of its dependencies; among ready nodes the smallest first.

    Kahn's algorithm with a heap of ready nodes: O((V + E) log V). Raises ``ValueError``
    naming a cycle when the graph has one (check with :func:`find_cycle` first to report it
    as a problem instead).
    """
    remaining, dependents = _index(deps)
    ready = [node for node, count in remaining.items() if count == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        node = heapq.heappop(ready)
        order.append(node)
        for child in dependents.get(node, ()):
            remaining[child] -= 1
            if remaining[child] == 0:
                heapq.heappush(ready, child)
    if len(order) < len(remaining):
        cycle = find_cycle(deps) or []
        raise ValueError(f"the graph has a cycle: {format_cycle(cycle)}")
    return order


def find_cycle(deps: Graph) -> list[str] | None:
    """One cycle of the graph as ``[a, b, …, a]``, or None when it has none.

    The cycle returned is the first of :func:`find_cycles`: the shortest cycle through the
    smallest node that lies on any cycle.
    """
    cycles = find_cycles(deps)
    return cycles[0] if cycles else None


def find_cycles(deps: Graph) -> list[list[str]]:
    """One cycle per strongly connected component that has one, ordered by first node.

    Each component's cycle is the shortest one through its smallest node, so separate
    tangles are all reported and each report is as short as it can be. O(V + E) plus the
    sorting of dependencies inside the components reported.
    """
    suspects = _on_or_after_cycles(deps)
    if not suspects:
        return []
    cycles: list[list[str]] = []
    for component in _components(deps, suspects):
        start = min(component)
        if len(component) > 1 or start in deps.get(start, ()):
            cycles.append(_shortest_cycle(deps, start, component))
    return sorted(cycles)


def format_cycle(cycle: Sequence[str]) -> str:
    """``a -> b -> a``: how cycles are printed in messages."""
    return " -> ".join(cycle)


def _index(deps: Graph) -> tuple[dict[str, int], dict[str, list[str]]]:
    """Count each node's unmet dependencies and list each node's dependents."""
    remaining = {node: len(node_deps) for node, node_deps in deps.items()}
    dependents: defaultdict[str, list[str]] = defaultdict(list)
    for node, node_deps in deps.items():
        for dep in node_deps:
            dependents[dep].append(node)
    for dep in dependents.keys() - remaining.keys():
        remaining[dep] = 0  # a dependency that is not a key: a node with no dependencies
    return remaining, dependents


def _on_or_after_cycles(deps: Graph) -> set[str]:
    """Nodes Kahn's algorithm cannot reach: those on a cycle or depending on one.

    A cheap peel (no heap) that leaves an acyclic graph empty, so the component search
    below only ever looks at the tangled part.
    """
    remaining, dependents = _index(deps)
    ready = deque(node for node, count in remaining.items() if count == 0)
    while ready:
        node = ready.popleft()
        del remaining[node]
        for child in dependents.get(node, ()):
            remaining[child] -= 1
            if remaining[child] == 0:
                ready.append(child)
    return set(remaining)


def _components(deps: Graph, nodes: set[str]) -> Iterator[set[str]]:
    """Strongly connected components of the graph restricted to ``nodes``."""
    search = _Tarjan(deps, nodes)
    for root in nodes:
        if root not in search.index:
            yield from search.run(root)


class _Tarjan:
    """Tarjan's algorithm with an explicit stack of (node, unexplored dependencies)."""

    def __init__(self, deps: Graph, nodes: set[str]) -> None:
        self.deps, self.nodes = deps, nodes
        self.index: dict[str, int] = {}
        self.low: dict[str, int] = {}
        self.stack: list[str] = []
        self.on_stack: set[str] = set()

    def run(self, root: str) -> Iterator[set[str]]:
        work = [(root, self._enter(root))]
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    parent = work[-1][0]
                    self.low[parent] = min(self.low[parent], self.low[node])
                if self.low[node] == self.index[node]:
                    yield self._pop_component(node)
            elif child not in self.index:
                work.append((child, self._enter(child)))
            elif child in self.on_stack:
                self.low[node] = min(self.low[node], self.index[child])

    def _enter(self, node: str) -> Iterator[str]:
        self.index[node] = self.low[node] = len(self.index)
        self.stack.append(node)
        self.on_stack.add(node)
        return iter([dep for dep in self.deps.get(node, ()) if dep in self.nodes])

    def _pop_component(self, root: str) -> set[str]:
        component: set[str] = set()
        while True:
            node = self.stack.pop()
            self.on_stack.discard(node)
            component.add(node)
            if node == root:
                return component


def _shortest_cycle(deps: Graph, start: str, component: set[str]) -> list[str]:
    """Breadth-first from ``start`` inside its component, dependencies in sorted order."""
    parent: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for dep in sorted(set(deps.get(node, ())) & component):
            if dep == start:
                return _path_back(parent, node, start)
            if dep not in parent:
                parent[dep] = node
                queue.append(dep)
    raise AssertionError(f"{start} is in a cyclic component but on no cycle")  # unreachable


def _path_back(parent: Mapping[str, str], last: str, start: str) -> list[str]:
    path = [last]
    while path[-1] != start:
        path.append(parent[path[-1]])
    path.reverse()
    path.append(start)
    return path

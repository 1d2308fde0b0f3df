"""Dependency graphs: deterministic topological order, cycles found and printed exactly."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.spec.helpers import assert_real_cycle, assert_valid_order, dags, with_back_edge
from uet.spec.graph import find_cycle, find_cycles, format_cycle, topological_order


def test_ready_nodes_come_out_smallest_first() -> None:
    """Among nodes whose dependencies are done, the smallest id always goes next."""
    deps = {"c": [], "a": ["c"], "b": [], "d": ["b"]}
    assert topological_order(deps) == ["b", "c", "a", "d"]


def test_dependencies_that_are_not_keys_are_nodes_of_their_own() -> None:
    assert topological_order({"b": ["a"]}) == ["a", "b"]


def test_duplicate_dependencies_are_harmless() -> None:
    assert topological_order({"a": [], "b": ["a", "a"]}) == ["a", "b"]


def test_topological_order_of_a_cyclic_graph_raises_with_the_cycle() -> None:
    with pytest.raises(ValueError, match=r"cycle: a -> b -> a"):
        topological_order({"a": ["b"], "b": ["a"], "c": []})


def test_a_self_dependency_is_a_cycle_of_one() -> None:
    assert find_cycle({"a": ["a"], "b": []}) == ["a", "a"]


def test_the_cycle_reported_is_the_shortest_through_the_smallest_node() -> None:
    """a -> b -> c -> a and a -> c -> a both exist: the shorter one is reported."""
    deps = {"a": ["b", "c"], "b": ["c"], "c": ["a"]}
    assert find_cycle(deps) == ["a", "c", "a"]


def test_every_separate_cycle_is_reported() -> None:
    deps = {"x": ["y"], "y": ["x"], "a": ["b"], "b": ["c"], "c": ["a"], "free": ["a"]}
    assert find_cycles(deps) == [["a", "b", "c", "a"], ["x", "y", "x"]]


def test_an_acyclic_graph_has_no_cycle() -> None:
    assert find_cycle({"a": [], "b": ["a"], "c": ["a", "b"]}) is None
    assert find_cycles({}) == []


def test_format_cycle_prints_arrows() -> None:
    assert format_cycle(["a", "b", "c", "a"]) == "a -> b -> c -> a"


def test_long_chains_and_long_cycles_need_no_recursion() -> None:
    """100,000 nodes in a line, then the same line closed into one cycle."""
    n = 100_000
    chain = {f"n{i:06d}": [f"n{i - 1:06d}"] if i else [] for i in range(n)}
    assert topological_order(chain)[-1] == f"n{n - 1:06d}"
    assert find_cycle(chain) is None
    chain["n000000"] = [f"n{n - 1:06d}"]
    cycle = find_cycle(chain)
    assert cycle is not None
    assert len(cycle) == n + 1
    assert_real_cycle(chain, cycle)


@settings(max_examples=200)
@given(deps=dags(), data=st.data())
def test_random_dags_order_validly_and_deterministically(
    deps: dict[str, list[str]], data: st.DataObject
) -> None:
    """A valid order, the same whatever the order of the mapping's keys, and no cycle."""
    order = topological_order(deps)
    assert_valid_order(deps, order)
    shuffled = data.draw(st.permutations(list(deps)))
    assert topological_order({node: deps[node] for node in shuffled}) == order
    assert find_cycle(deps) is None


@settings(max_examples=200)
@given(deps=dags(), data=st.data())
def test_a_back_edge_always_yields_a_real_cycle(
    deps: dict[str, list[str]], data: st.DataObject
) -> None:
    """Closing a cycle anywhere: find_cycle returns one whose every step is an edge, the
    same one whatever the key order, and topological_order refuses the graph."""
    cyclic = with_back_edge(data, deps)
    cycle = find_cycle(cyclic)
    assert cycle is not None
    assert_real_cycle(cyclic, cycle)
    shuffled = data.draw(st.permutations(list(cyclic)))
    assert find_cycle({node: cyclic[node] for node in shuffled}) == cycle
    with pytest.raises(ValueError, match="cycle"):
        topological_order(cyclic)

"""The router in memory: strategies, fallback, breakers, quota trips, limits, determinism."""

from __future__ import annotations

import random
import tracemalloc
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from uet.routing import BreakerState, Router, RoutingConfig, parse_routing


class ManualClock:
    """A clock that moves only when the test says so."""

    def __init__(self, now: float = 1_000.0) -> None:
        self.t = now

    def now(self) -> float:
        return self.t


def config(strategy: str = "fixed", **extra: Any) -> RoutingConfig:
    section: dict[str, Any] = {
        "rules": [
            {
                "match": {"kind": "code_edit"},
                "tools": ["aider", "claude", "codex"],
                "strategy": strategy,
                "fallback": ["gemini", "local"],
            }
        ],
        "breaker": {"failure_threshold": 2, "cooldown": 30},
        **extra,
    }
    return parse_routing(section)


def choices(router: Router, count: int, kind: str = "code_edit") -> list[str | None]:
    return [router.decide(kind).tool for _ in range(count)]


def test_fixed_always_takes_the_first_tool() -> None:
    router = Router(config("fixed"), deterministic=True)
    assert choices(router, 4) == ["aider"] * 4
    decision = router.decide("code_edit")
    assert decision.candidates == ("aider", "claude", "codex", "gemini", "local")
    assert decision.fallback == ("claude", "codex", "gemini", "local")
    assert (decision.category, decision.reason) == ("routing", "fixed: aider first of 3")


def test_round_robin_rotates_and_starts_at_zero_when_deterministic() -> None:
    router = Router(config("round_robin"), deterministic=True)
    assert choices(router, 7) == ["aider", "claude", "codex", "aider", "claude", "codex", "aider"]


def test_round_robin_start_is_random_but_seeded_otherwise() -> None:
    """Outside deterministic mode routers spread their first choice; a seed fixes it."""
    firsts = {
        Router(config("round_robin"), rng=random.Random(seed)).decide("code_edit").tool
        for seed in range(30)
    }
    assert firsts == {"aider", "claude", "codex"}


def test_least_loaded_takes_the_tool_with_least_work_in_flight() -> None:
    """Each decision reserves a slot, so idle tools are taken in turn; an outcome frees one."""
    router = Router(config("least_loaded"), deterministic=True)
    assert choices(router, 3) == ["aider", "claude", "codex"]
    router.record_outcome("claude", ok=True)
    assert router.decide("code_edit").tool == "claude"
    assert router.in_flight == {"aider": 1, "claude": 1, "codex": 1}


def test_metrics_explores_then_prefers_the_more_reliable_then_the_faster_tool() -> None:
    """Tools short of min_samples are tried first; then success rate wins, then latency."""
    router = Router(
        config(
            "metrics",
            metrics={"window": 10, "min_samples": 2},
            breaker={"failure_threshold": 5},
        ),
        deterministic=True,
    )
    for _ in range(2):
        router.record_outcome("aider", ok=False, latency=1.0)
        router.record_outcome("claude", ok=True, latency=5.0)
    assert router.decide("code_edit").tool == "codex"  # not enough samples yet: explored
    router.record_outcome("codex", ok=True, latency=2.0)
    router.record_outcome("codex", ok=True, latency=2.0)
    assert router.decide("code_edit").tool == "codex"  # as reliable as claude, faster
    for _ in range(10):  # the window forgets aider's failures
        router.record_outcome("aider", ok=True, latency=0.5)
    assert router.breaker_state("aider") is BreakerState.CLOSED
    assert router.decide("code_edit").tool == "aider"
    assert router.metrics["aider"].samples == 10


def test_an_open_breaker_sends_work_down_the_fallback_chain() -> None:
    """Two failures open aider's breaker: the next task goes to the next candidate, and the
    decision says why; after the cooldown a probe goes to aider, and its success closes it."""
    clock = ManualClock()
    router = Router(config("fixed"), clock=clock, deterministic=True)
    router.record_outcome("aider", ok=False)
    moved = router.record_outcome("aider", ok=False)
    assert [t.event_type for t in moved] == ["breaker.opened"]
    decision = router.decide("code_edit")
    assert decision.tool == "claude"
    assert decision.skipped == (("aider", "breaker open"),)
    assert decision.category == "fallback"
    assert decision.reason == "fixed: claude after aider: breaker open"

    clock.t += 30
    probe = router.decide("code_edit")
    assert probe.tool == "aider"
    assert [t.event_type for t in probe.transitions] == ["breaker.half_open"]
    assert router.decide("code_edit").tool == "claude"  # one probe at a time
    closed = router.record_outcome("aider", ok=True)
    assert [t.event_type for t in closed] == ["breaker.closed"]
    assert router.decide("code_edit").tool == "aider"


def test_a_quota_message_opens_the_breaker_at_once_and_the_task_moves_on() -> None:
    """One failure whose output is a quota message trips the breaker (threshold 2 notwith-
    standing), for the retry-after the tool gave; the retry excludes the tool it tried."""
    clock = ManualClock()
    router = Router(config("fixed"), clock=clock, deterministic=True)
    first = router.decide("code_edit", task_id="t1")
    moved = router.record_outcome(
        "aider", ok=False, output="429 Too Many Requests\nRetry-After: 120", task_id="t1"
    )
    assert [(t.after, t.retry_at) for t in moved] == [(BreakerState.OPEN, clock.t + 120)]
    retry = router.decide("code_edit", task_id="t1", exclude=[first.tool or ""])
    assert retry.tool == "claude"
    clock.t += 60
    assert router.decide("code_edit").tool == "claude"  # still inside the retry-after


def test_when_every_primary_is_out_the_fallback_chain_is_walked_in_order() -> None:
    router = Router(config("round_robin"), deterministic=True)
    for tool in ("aider", "claude", "codex"):
        router.trip(tool, "quota exhausted")
    decision = router.decide("code_edit", exclude=["gemini"])
    assert decision.tool == "local"
    assert "fallback: local after" in decision.reason
    for tool in ("gemini", "local"):
        router.trip(tool, "quota exhausted")
    nothing = router.decide("code_edit")
    assert nothing.tool is None
    assert nothing.reason.startswith("no candidate available (")


def test_max_parallel_is_respected_in_one_router() -> None:
    """A tool at its max_parallel is passed over until an outcome frees a slot."""
    router = Router(config("fixed", max_parallel={"aider": 2}), deterministic=True)
    assert choices(router, 3) == ["aider", "aider", "claude"]
    router.release("aider")
    assert router.decide("code_edit").tool == "aider"


def test_no_rule_and_no_default_is_a_decision_without_a_tool() -> None:
    decision = Router(config()).decide("deploy")
    assert decision.tool is None
    assert "no routing rule matches kind 'deploy'" in decision.reason


def test_a_dry_run_changes_nothing() -> None:
    """reserve=False (``uet route``) neither advances round-robin nor takes a slot."""
    router = Router(config("round_robin"), deterministic=True)
    assert [router.decide("code_edit", reserve=False).tool for _ in range(3)] == ["aider"] * 3
    assert router.in_flight == {}


def scripted_run(seed: int, count: int) -> list[tuple[str | None, str]]:
    """A mixed scenario: every strategy, failures, quota trips and cooldowns."""
    clock = ManualClock()
    section = {
        "rules": [
            {"match": {"kind": k}, "tools": ["a", "b", "c"], "strategy": s, "fallback": ["d"]}
            for k, s in [("rr", "round_robin"), ("ll", "least_loaded"), ("m", "metrics")]
        ],
        "default": {"tools": ["b", "a"], "fallback": ["d"]},
        "breaker": {"failure_threshold": 3, "cooldown": 5},
    }
    router = Router(parse_routing(section), clock=clock, deterministic=True)
    script = random.Random(seed)
    made = []
    for _ in range(count):
        clock.t += 0.25
        decision = router.decide(script.choice(["rr", "ll", "m", "other"]))
        made.append((decision.tool, decision.reason))
        if decision.tool is not None:
            roll = script.random()
            output = "rate limit exceeded" if roll < 0.02 else None
            router.record_outcome(decision.tool, ok=roll > 0.3, latency=roll, output=output)
    return made


def test_deterministic_mode_reproduces_every_choice() -> None:
    """Two routers given the same calls make the same 1,000 choices, for the same reasons."""
    first = scripted_run(7, 1000)
    assert first == scripted_run(7, 1000)
    assert {"a", "b", "c", "d"} <= {tool for tool, _ in first}  # every tool was chosen


def test_memory_stays_flat_over_many_decisions() -> None:
    """Metrics windows and caches are bounded: 50k more decisions allocate no more."""
    router = Router(config("metrics"), deterministic=True)

    def drive(count: int) -> None:
        for n in range(count):
            tool = router.decide("code_edit").tool
            assert tool is not None
            router.record_outcome(tool, ok=n % 3 != 0, latency=n % 5)

    drive(10_000)
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        drive(50_000)
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    assert grown < 64 * 1024, grown


@settings(max_examples=150, deadline=None)
@given(
    opened=st.sets(st.sampled_from(["aider", "claude", "codex", "gemini", "local"])),
    excluded=st.sets(st.sampled_from(["aider", "claude", "codex", "gemini", "local"])),
    strategy=st.sampled_from(["fixed", "round_robin", "least_loaded", "metrics"]),
    rounds=st.integers(1, 6),
)
def test_a_decision_never_picks_an_excluded_or_open_tool(
    opened: set[str], excluded: set[str], strategy: str, rounds: int
) -> None:
    """Whatever the strategy, the chosen tool is neither excluded nor behind an open
    breaker; and a tool is chosen whenever one candidate is neither."""
    router = Router(config(strategy), clock=ManualClock(), deterministic=True)
    for tool in opened:
        router.trip(tool, "quota")
    for _ in range(rounds):
        decision = router.decide("code_edit", exclude=excluded)
        assert decision.tool not in opened | excluded
        free = set(decision.candidates) - opened - excluded
        assert (decision.tool is None) == (not free)
        assert {tool for tool, _ in decision.skipped} <= opened | excluded

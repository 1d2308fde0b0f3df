"""The router: which tool runs a task, and where it goes when that tool cannot.

::

    router = Router(load_routing(settings), store=store, clock=clock, run_id=run.id)
    decision = router.decide("code_edit", risk="low", task_id="implement")
    ...  # run decision.tool
    transitions = router.record_outcome(decision.tool, ok=False, latency=12.5, output=tail)
    # a quota message opened the tool's breaker: decide again, the next tool is chosen
    decision = router.decide("code_edit", risk="low", task_id="implement",
                             exclude=[decision.tool])

For a task the router takes the first rule that fits (else ``default``), orders the rule's
``tools`` by its strategy, appends its ``fallback`` chain, and picks the first tool that is
not excluded, whose breaker lets work through, and that has a free slot under its
``max_parallel``. Every decision and every breaker transition is recorded in the decision
registry (when the router has a store) with the candidates and the reason; transitions are
also returned so the caller can emit ``breaker.*`` events.

Deterministic mode: round-robin cursors start at 0 (not at a random tool), and every tie is
broken by the order the config lists the tools in, so the same calls give the same choices.
A router is not thread-safe: one per run loop. A write-back that fails raises
:class:`uet.errors.StoreError` from the call that triggered it; nothing is lost (the rows
stay pending for the next write-back).
"""

from __future__ import annotations

import random
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace

from uet.clock import Clock, SystemClock
from uet.routing.breaker import BreakerState, Transition
from uet.routing.metrics import ToolMetrics
from uet.routing.quota import QuotaDetector
from uet.routing.rules import RoutingConfig, Rule, Strategy
from uet.routing.state import FLUSH_EVERY, FLUSH_INTERVAL_S, RouterState
from uet.state.records import DecisionRecord, dump_json
from uet.state.store import Store

NO_RULE = "none"
"""The rule key of a decision no rule (and no default) applied to."""


@dataclass(frozen=True, slots=True)
class Decision:
    """A routing choice: the tool (None when no candidate could take the task), the
    candidates in the order they were considered, why the ones before it were passed over,
    and the fallback chain left after it."""

    tool: str | None
    rule: str  # the rule's key (NO_RULE when none applied)
    strategy: Strategy
    candidates: tuple[str, ...]  # primaries in strategy order, then the fallback chain
    skipped: tuple[tuple[str, str], ...]  # (tool, why) for every candidate passed over
    reason: str
    at: float
    transitions: tuple[Transition, ...] = ()  # breakers that went half-open while deciding
    fallback: tuple[str, ...] = field(default=())  # candidates after the chosen one
    capable_of: str | None = None  # no rule applied: tools that declare this kind were tried

    @property
    def category(self) -> str:
        """``routing`` when a rule's preferred candidate was chosen, ``fallback`` otherwise
        (a candidate was passed over, or no rule applied and a capable tool was taken)."""
        preferred = not self.skipped and self.tool is not None and self.capable_of is None
        return "routing" if preferred else "fallback"

    def data(self) -> dict[str, object]:
        """What the registry keeps beside the choice: the rule, the strategy, the skips."""
        data: dict[str, object] = {"rule": self.rule, "strategy": self.strategy.value}
        if self.capable_of is not None:
            data["capable_of"] = self.capable_of
        if self.skipped:
            data["skipped"] = dict(self.skipped)
        return data

    def data_json(self) -> str | None:
        return dump_json(self.data())

    def to_record(self, *, run_id: str | None = None, task_id: str | None = None) -> DecisionRecord:
        return DecisionRecord(
            category=self.category,
            chosen=self.tool or "",
            reason=self.reason,
            ts=self.at,
            run_id=run_id,
            task_id=task_id,
            alternatives=list(self.candidates),
            data=self.data(),
        )


class Router:
    """Chooses tools by the rules of ``config``; see the module docstring."""

    def __init__(
        self,
        config: RoutingConfig,
        *,
        store: Store | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        deterministic: bool = False,
        run_id: str | None = None,
        max_parallel: Mapping[str, int] | None = None,
        capable: Mapping[str, Collection[str]] | None = None,
        unavailable: Mapping[str, str] | None = None,
        flush_every: int = FLUSH_EVERY,
        flush_interval: float = FLUSH_INTERVAL_S,
    ) -> None:
        self.config = config
        self.capable = {kind: tuple(tools) for kind, tools in (capable or {}).items()}
        self.unavailable = dict(unavailable or {})
        self.clock: Clock = clock or SystemClock()
        self.deterministic = deterministic
        self.rng = rng or random.Random(0 if deterministic else None)  # noqa: S311 - not crypto
        self.run_id = run_id
        self.max_parallel = {**config.max_parallel, **(max_parallel or {})}
        self.state = RouterState(
            store,
            policy=config.breaker.policy(),
            flush_every=flush_every,
            flush_interval=flush_interval,
        )
        self.quota = QuotaDetector(config.quota_patterns)
        self.in_flight: dict[str, int] = {}
        self.metrics: dict[str, ToolMetrics] = {}
        self._leases: dict[str, list[int]] = {}  # lease ids held, by tool
        self._shared = store is not None  # max_parallel counted across routers on the store
        self._routes = {id(rule): _Route(rule) for rule in _rules(config)}
        self._by_capability: dict[str | None, _Route | None] = {}
        self._matched: dict[tuple[str | None, str | None, str | None], _Route | None] = {}
        self._json: dict[tuple[str, ...], str | None] = {}

    # -- deciding ---------------------------------------------------------------------------

    def decide(
        self,
        kind: str | None = None,
        *,
        risk: str | None = None,
        complexity: str | None = None,
        exclude: Collection[str] = (),
        task_id: str | None = None,
        reserve: bool = True,
    ) -> Decision:
        """Choose a tool for a task of ``kind`` (with its ``risk`` and ``complexity``).

        ``exclude`` names tools already tried for this task (after a quota trip, a failure).
        With ``reserve`` (the default) the choice takes a slot of the tool until
        :meth:`record_outcome` or :meth:`release`, advances round-robin, and is recorded;
        ``reserve=False`` is a dry run (``uet route``) that changes nothing.
        """
        at = self.clock.now()
        route = self._route_for(kind, risk, complexity)
        if route is None:
            decision = Decision(None, NO_RULE, Strategy.FIXED, (), (), _no_rule(kind), at)
        else:
            decision = self._choose(route, at, exclude, reserve)
            if route.capability is not None:
                decision = replace(decision, capable_of=route.capability)
        if reserve:
            self._record(decision, route, task_id)
        return decision

    def _route_for(
        self, kind: str | None, risk: str | None, complexity: str | None
    ) -> _Route | None:
        key = (kind, risk, complexity)
        if key in self._matched:
            return self._matched[key]
        if len(self._matched) >= _CACHE_MAX:
            self._matched.clear()
        rule = self.config.rule_for(kind, risk, complexity)
        if rule is None:
            found = self._matched[key] = self._capability_route(kind)
        else:
            found = self._matched[key] = self._routes[id(rule)]
        return found

    def _capability_route(self, kind: str | None) -> _Route | None:
        """No rule applies: the tools that declare ``kind``, alphabetically, ordered by the
        config's ``strategy`` (the originals' fallback to a capable tool)."""
        if kind not in self._by_capability:
            tools = self.capable.get(kind or "", ())
            self._by_capability[kind] = (
                _Route(
                    Rule(tools=list(tools), strategy=self.config.strategy),
                    capability=kind,
                )
                if tools
                else None
            )
        return self._by_capability[kind]

    def _choose(
        self, route: _Route, at: float, exclude: Collection[str], reserve: bool
    ) -> Decision:
        primaries = self._order(route)
        candidates = primaries + route.fallback
        skipped: list[tuple[str, str]] = []
        transitions: list[Transition] = []
        chosen: str | None = None
        for index, tool in enumerate(candidates):
            why = self._unusable(tool, at, exclude, transitions)
            if why is None and reserve and not self._reserve(tool, at):
                why = "max_parallel reached"
            if why is None:
                chosen = tool
                rest = candidates[index + 1 :]
                break
            skipped.append((tool, why))
        else:
            rest = ()
        if reserve and route.strategy is Strategy.ROUND_ROBIN:
            self._advance(route, chosen)
        return Decision(
            chosen,
            route.key,
            route.strategy,
            candidates,
            tuple(skipped),
            _reason(route, chosen, skipped),
            at,
            tuple(transitions),
            rest,
        )

    def _order(self, route: _Route) -> tuple[str, ...]:
        tools = route.tools
        strategy = route.strategy
        if strategy is Strategy.ROUND_ROBIN:
            start = self._cursor(route)
            return tools[start:] + tools[:start]
        if strategy is Strategy.LEAST_LOADED:
            load = self.in_flight
            return tuple(sorted(tools, key=lambda tool: load.get(tool, 0)))  # ties keep order
        if strategy is Strategy.METRICS:
            return tuple(sorted(tools, key=self._rank))
        return tools

    def _rank(self, tool: str) -> tuple[int, float, float]:
        """Tools short of ``min_samples`` first (fewest first), then by success rate, then
        by mean latency. (Sorting is stable: ties keep the config's order.)"""
        metrics = self.metrics.get(tool)
        samples = 0 if metrics is None else metrics.samples
        if metrics is None or samples < self.config.metrics.min_samples:
            return (0, float(samples), 0.0)
        return (1, -metrics.success_rate, metrics.mean_latency)

    def _cursor(self, route: _Route) -> int:
        cursor = self.state.cursors.get(route.key)
        if cursor is None:
            cursor = 0 if self.deterministic else self.rng.randrange(len(route.tools))
            self.state.set_cursor(route.key, cursor)
        return cursor % len(route.tools)

    def _advance(self, route: _Route, chosen: str | None) -> None:
        tools = route.tools
        position = tools.index(chosen) if chosen in tools else self._cursor(route)
        self.state.set_cursor(route.key, (position + 1) % len(tools))

    def _unusable(
        self, tool: str, at: float, exclude: Collection[str], transitions: list[Transition]
    ) -> str | None:
        """Why ``tool`` cannot take work now, or None."""
        if tool in exclude:
            return "excluded"
        missing = self.unavailable.get(tool)
        if missing is not None:
            return f"not available: {missing}"
        breaker = self.state.breakers.get(tool)
        if breaker is not None and breaker.state is not BreakerState.CLOSED:
            moved = breaker.poll(at)
            if moved is not None:
                self.state.changed(tool)
                transitions.append(moved)
                self.state.record(moved.to_record(run_id=self.run_id))
            if not breaker.allows():
                return f"breaker {breaker.state.value}"
        limit = self.max_parallel.get(tool)
        if limit is not None and self.in_flight.get(tool, 0) >= limit:
            return "max_parallel reached"
        return None

    def _reserve(self, tool: str, at: float) -> bool:
        """Take a slot of ``tool``; False when another router took the last one."""
        limit = self.max_parallel.get(tool)
        if limit is not None and self._shared:
            lease = self.state.acquire(tool, limit, at)
            if lease is None:
                return False
            self._leases.setdefault(tool, []).append(lease)
        self.in_flight[tool] = self.in_flight.get(tool, 0) + 1
        breaker = self.state.breakers.get(tool)
        if breaker is not None:
            breaker.dispatched()
        return True

    def _record(self, decision: Decision, route: _Route | None, task_id: str | None) -> None:
        """Queue the decision's registry row, built without a DecisionRecord: the JSON of the
        candidates and of the rule's data is made once per distinct value and reused."""
        state = self.state
        if state.store is not None:
            skipped = decision.skipped
            data = route.data_json if route is not None and not skipped else decision.data_json()
            state.record_row(
                (
                    decision.at,
                    decision.category,
                    self.run_id,
                    task_id,
                    decision.tool or "",
                    self._candidates_json(decision.candidates),
                    decision.reason,
                    data,
                )
            )
        state.tick(decision.at)

    def _candidates_json(self, candidates: tuple[str, ...]) -> str | None:
        found = self._json.get(candidates)
        if found is None:
            if len(self._json) >= _CACHE_MAX:
                self._json.clear()
            found = self._json[candidates] = dump_json(list(candidates)) or "[]"
        return found

    # -- outcomes ---------------------------------------------------------------------------

    def record_outcome(
        self,
        tool: str,
        *,
        ok: bool,
        latency: float = 0.0,
        output: str | None = None,
        rate_limited: bool = False,
        retry_after: float | None = None,
        task_id: str | None = None,
        reserved: bool = True,
        cannot_start: str | None = None,
    ) -> list[Transition]:
        """How work sent to ``tool`` ended; returns the breaker transitions it caused.

        ``reserved=False`` for work this router did not choose (a task that names its tool):
        it took no slot, so none is given back. ``cannot_start`` says why the tool could
        not even start (its binary is missing): its breaker opens at once, for the cooldown.

        A failure whose ``output`` matches a quota/rate-limit pattern (or ``rate_limited``)
        opens the breaker at once, for the tool's stated retry-after when it gave one. A
        breaker that opens is written to the store before this returns.
        """
        at = self.clock.now()
        if reserved:
            self._free(tool, at)
        metrics = self.metrics.get(tool)
        if metrics is None:
            metrics = self.metrics[tool] = ToolMetrics(self.config.metrics.window)
        metrics.add(ok, latency)
        breaker = self.state.breaker(tool)
        before = (breaker.state, breaker.failures)
        if ok:
            moved = breaker.success(at)
        elif cannot_start is not None:
            moved = breaker.trip(at, cannot_start, None)
        else:
            signal = self.quota.detect(output)
            if rate_limited or signal is not None:
                if retry_after is None and signal is not None:
                    retry_after = signal.retry_after
                reason = "rate limited" if signal is None else f"quota: {signal.match!r}"
                moved = breaker.trip(at, reason, retry_after)
            else:
                moved = breaker.failure(at)
        if moved is not None or (breaker.state, breaker.failures) != before:
            self.state.changed(tool)
        return self._transitioned(moved, at, task_id)

    def trip(
        self,
        tool: str,
        reason: str,
        *,
        retry_after: float | None = None,
        task_id: str | None = None,
    ) -> list[Transition]:
        """Open ``tool``'s breaker now (a quota or rate limit found by the caller)."""
        at = self.clock.now()
        moved = self.state.breaker(tool).trip(at, reason, retry_after)
        self.state.changed(tool)
        return self._transitioned(moved, at, task_id)

    def release(self, tool: str) -> None:
        """Work sent to ``tool`` ended without an outcome (canceled): free its slot."""
        at = self.clock.now()
        self._free(tool, at)
        breaker = self.state.breakers.get(tool)
        if breaker is not None:
            breaker.released()

    def _free(self, tool: str, at: float) -> None:
        count = self.in_flight.get(tool, 0)
        if count:
            self.in_flight[tool] = count - 1
        leases = self._leases.get(tool)
        if leases:
            self.state.release(leases.pop(), at)

    def _transitioned(
        self, moved: Transition | None, at: float, task_id: str | None
    ) -> list[Transition]:
        if moved is None:
            return []
        self.state.record(moved.to_record(run_id=self.run_id, task_id=task_id))
        if moved.after is BreakerState.OPEN:
            self.state.flush(at)  # an open breaker must survive a crash
        return [moved]

    # -- state ------------------------------------------------------------------------------

    def breaker_state(self, tool: str) -> BreakerState:
        breaker = self.state.breakers.get(tool)
        return BreakerState.CLOSED if breaker is None else breaker.state

    def flush(self) -> int:
        """Write dirty state and pending decisions now; returns rows written."""
        return self.state.flush(self.clock.now())

    def close(self) -> None:
        """Flush, and give back every slot this router still holds."""
        self.state.close(self.clock.now())
        self._leases.clear()

    def __enter__(self) -> Router:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _rules(config: RoutingConfig) -> list[Rule]:
    return [*config.rules, *([config.default] if config.default is not None else [])]


def _no_rule(kind: str | None) -> str:
    return (
        f"no routing rule matches kind {kind!r}, there is no default, "
        f"and no tool profile lists {kind!r} in its capabilities"
    )


def _reason(route: _Route, chosen: str | None, skipped: list[tuple[str, str]]) -> str:
    if not skipped:
        reason = route.first_reason[chosen] if chosen is not None else "no candidates"
    else:
        passed = "; ".join(f"{tool}: {why}" for tool, why in skipped)
        if chosen is None:
            reason = f"no candidate available ({passed})"
        else:
            where = "fallback" if chosen in route.fallback else route.strategy.value
            reason = f"{where}: {chosen} after {passed}"
    if route.capability is not None:
        return f"no rule matches kind {route.capability!r}; among the tools capable of it, {reason}"
    return reason


class _Route:
    """A rule prepared for deciding: tuples, its key, and the texts reused for every
    decision it makes."""

    __slots__ = ("capability", "data_json", "fallback", "first_reason", "key", "strategy", "tools")

    def __init__(self, rule: Rule, *, capability: str | None = None) -> None:
        self.capability = capability  # the kind, for a route of capable tools (no rule)
        self.key = rule.key if capability is None else f"capable:{capability}"
        self.strategy = rule.strategy
        self.tools = tuple(rule.tools)
        self.fallback = tuple(rule.fallback)
        data: dict[str, object] = {"rule": self.key, "strategy": self.strategy.value}
        if capability is not None:
            data["capable_of"] = capability
        self.data_json = dump_json(data)
        count = len(self.tools)
        self.first_reason = {
            tool: f"{self.strategy.value}: {tool} first of {count}" for tool in self.tools
        }


_CACHE_MAX = 4096  # entries in the router's lookup caches before they are emptied

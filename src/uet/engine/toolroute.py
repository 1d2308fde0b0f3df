"""What the router needs to know of the tools: who can take which kind, who is usable here.

With no routing rule for a task's kind, ``tool: auto`` goes to the tools whose profiles
(or the originals' ``apps``) declare that kind; a tool whose binary is missing or too old
is passed over with the reason (`uet route` shows it). Nothing here runs git.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from uet.config import Settings
from uet.routing import Decision, Router, RoutingConfig, capable_tools, load_routing, unknown_tools
from uet.spec.tools import ToolProfile, load_tools, unavailable_tools
from uet.state.store import Store


def routing_inputs(
    tools: Mapping[str, ToolProfile], routing: RoutingConfig, kinds: Collection[str | None]
) -> tuple[dict[str, tuple[str, ...]], dict[str, str]]:
    """(kind -> capable tools, tool -> why it is not usable here) for tasks of ``kinds``.

    Only the tools the router may consider for those kinds are checked (their version
    commands run at once, see :func:`uet.spec.tools.check_tools`)."""
    capable = capable_tools(routing, {n: p.capabilities for n, p in tools.items()})
    candidates = routing_candidates(routing, capable, kinds)
    unavailable = unavailable_tools(tools[name] for name in sorted(candidates) if name in tools)
    return capable, unavailable


def routing_candidates(
    routing: RoutingConfig, capable: Mapping[str, Sequence[str]], kinds: Iterable[str | None]
) -> set[str]:
    """Every tool the router may consider for tasks of ``kinds``: the tools of the rules
    (their fallbacks, the default), and the tools capable of each kind."""
    named = {
        tool
        for rule in (*routing.rules, routing.default)
        if rule is not None
        for tool in (*rule.tools, *rule.fallback)
    }
    return named.union(*(capable.get(kind or "", ()) for kind in kinds))


@dataclass(frozen=True, slots=True)
class RoutePreview:
    """A dry routing decision (``uet route``) and every candidate not usable here."""

    decision: Decision
    unavailable: dict[str, str]  # tool -> why, for the decision's candidates

    def to_dict(self) -> dict[str, object]:
        decision = self.decision
        return {
            "tool": decision.tool,
            "category": decision.category,
            "rule": decision.rule,
            "strategy": decision.strategy.value,
            "candidates": list(decision.candidates),
            "skipped": dict(decision.skipped),
            "fallback": list(decision.fallback),
            "unavailable": self.unavailable,
            "reason": decision.reason,
        }


def preview_route(
    settings: Settings,
    kind: str,
    *,
    risk: str | None = None,
    complexity: str | None = None,
    exclude: Collection[str] = (),
    store: Store | None = None,
) -> RoutePreview:
    """What the router would choose for a task of ``kind`` now, recording nothing: the
    project's rules and profiles, the tools usable here, the stored breakers and cursors."""
    tools = load_tools(settings)
    routing = load_routing(settings)
    capable, unavailable = routing_inputs(tools, routing, [kind])
    unusable = {
        **dict.fromkeys(unknown_tools(routing, tools), "no tool profile"),
        **unavailable,
    }
    # Reads the stored breakers and cursors; never closed (flushed): a dry run writes nothing.
    router = Router(routing, store=store, capable=capable, unavailable=unusable)
    decision = router.decide(kind, risk=risk, complexity=complexity, exclude=exclude, reserve=False)
    shown = {tool: unusable[tool] for tool in decision.candidates if tool in unusable}
    return RoutePreview(decision, shown)

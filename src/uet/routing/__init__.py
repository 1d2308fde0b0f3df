"""Routing: which tool runs an agent task, with fallback, circuit breakers and quota awareness.

See :mod:`uet.routing.router` for the flow and docs/routing.md for the config section.
"""

from __future__ import annotations

from uet.routing.breaker import BreakerPolicy, BreakerState, CircuitBreaker, Transition
from uet.routing.metrics import ToolMetrics
from uet.routing.originals import from_original, is_original
from uet.routing.quota import DEFAULT_PATTERNS, QuotaDetector, QuotaSignal, parse_retry_after
from uet.routing.router import Decision, Router
from uet.routing.rules import (
    ROUTER_CONFIG_FILE,
    ROUTING_FILE,
    App,
    BreakerSettings,
    Match,
    MetricsSettings,
    RoutingConfig,
    Rule,
    Strategy,
    capable_tools,
    load_routing,
    parse_routing,
    unknown_tools,
)
from uet.routing.state import RouterState

__all__ = [
    "DEFAULT_PATTERNS",
    "ROUTER_CONFIG_FILE",
    "ROUTING_FILE",
    "App",
    "BreakerPolicy",
    "BreakerSettings",
    "BreakerState",
    "CircuitBreaker",
    "Decision",
    "Match",
    "MetricsSettings",
    "QuotaDetector",
    "QuotaSignal",
    "Router",
    "RouterState",
    "RoutingConfig",
    "Rule",
    "Strategy",
    "ToolMetrics",
    "Transition",
    "capable_tools",
    "from_original",
    "is_original",
    "load_routing",
    "parse_retry_after",
    "parse_routing",
    "unknown_tools",
]

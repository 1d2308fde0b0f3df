"""Agents as a service: isolated clones (``uet.isolation``) recorded in the store, with events
and merge decisions. What ``uet agents …`` calls; the engine uses it for ``isolation: clone``.
"""

from __future__ import annotations

from uet.agents.service import AgentManager, CleanupResult

__all__ = ["AgentManager", "CleanupResult"]

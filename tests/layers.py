"""DESIGN.md's layering, as the tests check it."""

CORE_MODULES = frozenset(
    {
        "uet.errors",
        "uet.defaults",
        "uet.config",
        "uet.clock",
        "uet.ids",
        "uet.memory",
        "uet.scope",
    }
)
"""uet's core: what spec/ (tool profiles included) may import, and nothing more."""

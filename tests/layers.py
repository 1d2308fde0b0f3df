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
        "uet.contain",  # containment's pure parts: the standard library and the core only
        "uet.contain.env",
        "uet.contain.paths",
        "uet.contain.rules",
        "uet.contain.sandbox",
    }
)
"""uet's core: what spec/ (tool profiles included) may import, and nothing more."""

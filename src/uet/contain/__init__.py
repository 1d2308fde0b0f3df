"""Agent containment: what an agent's change may contain (:mod:`uet.contain.rules`), paths
uet itself never follows out of a folder (:mod:`uet.contain.paths`), the environment a tool
gets (:mod:`uet.contain.env`) and the sandbox it runs in (:mod:`uet.contain.sandbox`).

Core modules: the standard library only. What needs git (reading modes and blobs of a
change) lives in :mod:`uet.isolation.content`; docs/security.md tells the whole story.
"""

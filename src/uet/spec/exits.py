"""The agent runner's exit codes: what the engine reads from a tool task's attempt.

Kept apart from :mod:`uet.spec.attempt` (the runner's pydantic contract, with the tool
profiles) so that a run without tool tasks loads neither."""

from __future__ import annotations

RATE_LIMITED_EXIT = 75  # EX_TEMPFAIL: the tool was rate-limited or out of quota
SCOPE_REJECTED_EXIT = 65  # EX_DATAERR: the tool changed files outside files_scope or protected
CANNOT_START_EXIT = 127  # the tool's program was not found (the shell's "command not found")
FALLBACK_EXITS = frozenset({RATE_LIMITED_EXIT, CANNOT_START_EXIT})
"""Runner exits after which a routed task goes to its next tool without spending a retry."""

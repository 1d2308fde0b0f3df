"""The profiles uet ships: aider, Claude Code, Codex CLI, Gemini CLI and a plain shell tool.

Each runs its tool headless, lets it edit files without asking, and keeps it from
committing: uet commits an agent's work itself, with explicit paths, after checking the
files scope. Flags were checked against each tool's documentation (see docs/tools.md);
override any field in ``uet.toml`` (``[tools.NAME]``) or ``config/tools.yaml``.

The output patterns are regular expressions searched case-insensitively. Quota patterns
mean the account's allowance is used up (wait for the reset, use another tool); rate-limit
patterns mean "too many requests right now" (back off and retry).
"""

from __future__ import annotations

from typing import Any

from uet.spec.tools.profile import ToolProfile

AGENT_TIMEOUT_S = 1800.0
"""Seconds an AI tool may work on one task before its process group is killed."""

AGENT_MAX_PARALLEL = 3
"""Invocations of one AI tool at once: a few sessions per account stay under most limits."""

EDIT_KINDS = ["code_edit", "refactor", "test_fix", "docs"]

_HTTP_429 = r"\b429\b|too many requests"

_AIDER: dict[str, Any] = {
    "description": "aider, one message from a file, no git commits of its own",
    "argv": [
        "aider",
        "--message-file",
        "{prompt_file}",
        "--yes-always",
        "--no-auto-commits",  # uet commits, with explicit paths
        "--no-dirty-commits",  # nor may aider commit what it finds uncommitted
        "--no-gitignore",  # nor add .aider* to .gitignore
        "--no-check-update",
        "--no-show-release-notes",
        "--no-analytics",
        "--no-pretty",
        "--no-stream",
        "--model={model}",
        "{files}",
    ],
    "capabilities": EDIT_KINDS,
    "rate_limit_patterns": [r"RateLimitError", r"rate.?limit", _HTTP_429, r"overloaded"],
    "quota_patterns": [
        r"insufficient_quota",
        r"exceeded your current quota",
        r"credit balance is too low",
        r"quota exceeded",
    ],
}

_CLAUDE: dict[str, Any] = {
    "description": "Claude Code headless (-p); edits accepted, other tools not pre-approved",
    "argv": [
        "claude",
        "-p",
        "{prompt}",
        "--output-format",
        "text",
        "--permission-mode",
        "acceptEdits",
        "--model={model}",
    ],
    "capabilities": [*EDIT_KINDS, "review"],
    "rate_limit_patterns": [
        r"rate limit reached",
        r"rate_limit_error",
        r"overloaded_error",
        _HTTP_429,
        r"\b529\b",
    ],
    "quota_patterns": [
        r"usage limit reached",
        r"you've hit your (usage )?limit",
        r"limit reached.*resets",
        r"credit balance is too low",
    ],
}

_CODEX: dict[str, Any] = {
    "description": "Codex CLI exec mode, workspace-write sandbox (Codex does not commit)",
    "argv": [
        "codex",
        "exec",
        "--sandbox",
        "workspace-write",
        "--color",
        "never",
        "--model={model}",
        "--",
        "{prompt}",
    ],
    "capabilities": [*EDIT_KINDS, "review"],
    "rate_limit_patterns": [r"rate limit reached", r"exceeded retry limit", _HTTP_429],
    "quota_patterns": [
        r"you've hit your usage limit",
        r"usage_limit_reached",
        r"insufficient_quota",
        r"quota exceeded",
    ],
}

_GEMINI: dict[str, Any] = {
    "description": "Gemini CLI headless (--prompt), file edits auto-approved",
    "argv": ["gemini", "--prompt={prompt}", "--approval-mode=auto_edit", "--model={model}"],
    "capabilities": [*EDIT_KINDS, "review"],
    "rate_limit_patterns": [
        r"RESOURCE_EXHAUSTED",
        r"rate limit",
        r"quota exceeded for quota metric",  # per-minute quotas: a rate limit
        _HTTP_429,
    ],
    "quota_patterns": [r"daily quota", r"per day", r"exhausted your .*quota"],
}

_SHELL: dict[str, Any] = {
    "description": "the prompt run as a shell command (sh -c)",
    "argv": ["sh", "-c", "{prompt}"],
    "capabilities": ["shell"],
    "check": {"version_args": None},  # POSIX sh has no --version
}


def _agent(spec: dict[str, Any]) -> dict[str, Any]:
    return {"timeout": AGENT_TIMEOUT_S, "max_parallel": AGENT_MAX_PARALLEL, **spec}


BUILTIN_TOOL_DATA: dict[str, dict[str, Any]] = {
    "aider": _agent(_AIDER),
    "claude": _agent(_CLAUDE),
    "codex": _agent(_CODEX),
    "gemini": _agent(_GEMINI),
    "shell": _SHELL,
}
"""The built-in profiles as plain data: the base that configuration layers are merged onto."""

BUILTIN_TOOLS: dict[str, ToolProfile] = {
    name: ToolProfile.model_validate({**data, "name": name})
    for name, data in BUILTIN_TOOL_DATA.items()
}
"""The built-in profiles, validated."""

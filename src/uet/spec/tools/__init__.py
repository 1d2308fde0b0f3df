"""Tool profiles: how uet runs AI coding CLIs (and any command) for agent tasks.

::

    from uet.config import load_settings
    from uet.spec.tools import check_tool, classify_output, load_tools, render_argv

    tools = load_tools(load_settings())          # built-ins < uet.toml < config/tools.yaml
    aider = tools["aider"]
    argv = render_argv(aider, prompt_file="/tmp/p.txt", files=["src/app/io.py"])
    check_tool(aider).usable                     # on PATH, version new enough
    classify_output(aider, "litellm.RateLimitError: ...")   # Outcome.RATE_LIMITED

See docs/tools.md for the configuration schema and the built-in profiles.
"""

from __future__ import annotations

from uet.spec.tools.availability import (
    ToolStatus,
    check_tool,
    check_tools,
    parse_version,
    unavailable_tools,
)
from uet.spec.tools.builtin import BUILTIN_TOOL_DATA, BUILTIN_TOOLS
from uet.spec.tools.loader import TOOLS_FILE, ToolLayer, load_tools, merge_layers
from uet.spec.tools.profile import (
    KNOWN_KINDS,
    PLACEHOLDER_ALIASES,
    PLACEHOLDERS,
    Outcome,
    ToolCheck,
    ToolProfile,
    classify_output,
    placeholders_in,
    render_argv,
)

__all__ = [  # noqa: RUF022 - grouped by concern, not alphabetically
    # profiles
    "ToolProfile",
    "ToolCheck",
    "PLACEHOLDERS",
    "PLACEHOLDER_ALIASES",
    "KNOWN_KINDS",
    "render_argv",
    "placeholders_in",
    "classify_output",
    "Outcome",
    # loading
    "load_tools",
    "merge_layers",
    "ToolLayer",
    "TOOLS_FILE",
    "BUILTIN_TOOLS",
    "BUILTIN_TOOL_DATA",
    # availability
    "check_tool",
    "check_tools",
    "unavailable_tools",
    "ToolStatus",
    "parse_version",
]

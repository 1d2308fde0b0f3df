"""Fakes for testing workstreams that use AI agents, without real AI tools.

::

    from uet.testing import capture_events, fake_tool_profile, script_calls, write_script

    script = write_script(tmp_path / "agent.json", calls=[
        [{"action": "write", "path": "src/app/io.py", "content": "# validated\\n"}],
        [{"action": "write", "path": "src/app/io.py", "content": "# again\\n"}],
        [{"action": "rate_limit"}],                     # the third call and later
    ])
    profile = fake_tool_profile("fake", script)          # a ToolProfile like any other
    ...
    assert [c["call"] for c in script_calls(script)] == [1, 2, 3]

The fake agent itself is ``python -m uet.testing.fake_agent`` (see that module for the
script format). Importing this package is cheap: the helpers load on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from uet.testing._helpers import (
        FAKE_QUOTA_PATTERNS,
        FAKE_RATE_LIMIT_PATTERNS,
        capture_events,
        fake_tool_profile,
        reset_script,
        script_calls,
        write_script,
    )
    from uet.testing.fake_agent import QUOTA_MESSAGE, RATE_LIMIT_EXIT, RATE_LIMIT_MESSAGE

_LAZY = {
    "write_script": "uet.testing._helpers",
    "reset_script": "uet.testing._helpers",
    "script_calls": "uet.testing._helpers",
    "fake_tool_profile": "uet.testing._helpers",
    "capture_events": "uet.testing._helpers",
    "FAKE_RATE_LIMIT_PATTERNS": "uet.testing._helpers",
    "FAKE_QUOTA_PATTERNS": "uet.testing._helpers",
    "RATE_LIMIT_EXIT": "uet.testing.fake_agent",
    "RATE_LIMIT_MESSAGE": "uet.testing.fake_agent",
    "QUOTA_MESSAGE": "uet.testing.fake_agent",
}

__all__ = [  # noqa: RUF022 - grouped by concern, not alphabetically
    # the fake agent CLI
    "write_script",
    "reset_script",
    "script_calls",
    "fake_tool_profile",
    "RATE_LIMIT_EXIT",
    "RATE_LIMIT_MESSAGE",
    "QUOTA_MESSAGE",
    "FAKE_RATE_LIMIT_PATTERNS",
    "FAKE_QUOTA_PATTERNS",
    # events
    "capture_events",
]


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'uet.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)

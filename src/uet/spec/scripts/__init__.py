"""The script registry: named commands with typed parameters (issue 11, item 3).

::

    from uet.config import load_settings
    from uet.spec.scripts import load_scripts, prepare

    scripts = load_scripts(load_settings())        # uet.toml [scripts] < config/scripts.yaml
    invocation = prepare(scripts["deploy-dry-run"], ["env=prod"], args=["--verbose"])
    invocation.command_text                        # what will run
    invocation.task()                              # a TaskSpec for a one-task plan

A workstream task ``script: NAME`` is resolved by the workstream loader
(:func:`resolve_script_tasks`). See docs/automation.md, "Script registry".
"""

from __future__ import annotations

from uet.spec.scripts.loader import SCRIPTS_FILE, ScriptLayer, load_scripts, merge_layers
from uet.spec.scripts.model import (
    PARAM_NAME_PATTERN,
    SCRIPT_NAME_PATTERN,
    ParamSpec,
    ParamType,
    ScriptSpec,
)
from uet.spec.scripts.render import (
    Invocation,
    ScriptUsageError,
    bind,
    coerce,
    parse_param_options,
    prepare,
    render,
)
from uet.spec.scripts.tasks import (
    has_script_tasks,
    resolve_script_tasks,
    script_commands,
    script_plan,
)

__all__ = [  # noqa: RUF022 - grouped by concern, not alphabetically
    # models
    "ScriptSpec",
    "ParamSpec",
    "ParamType",
    "SCRIPT_NAME_PATTERN",
    "PARAM_NAME_PATTERN",
    # loading
    "load_scripts",
    "merge_layers",
    "ScriptLayer",
    "SCRIPTS_FILE",
    # running
    "prepare",
    "parse_param_options",
    "bind",
    "coerce",
    "render",
    "Invocation",
    "ScriptUsageError",
    # as tasks
    "resolve_script_tasks",
    "has_script_tasks",
    "script_plan",
    "script_commands",
]

"""Loading workstream files for ``uet validate`` and ``uet run``: ``--var``, warnings, and
what a task's acceptance entries will do."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from uet.errors import Problem, UsageError

if TYPE_CHECKING:  # the spec loader (and YAML) load only for the commands that read files
    from uet.spec import Plan

F = TypeVar("F", bound=Callable[..., Any])
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def var_option(command: F) -> F:
    """``--var KEY=VALUE`` (repeatable): a value for ``${KEY}`` in the files."""
    option = click.option(
        "--var",
        "variables",
        multiple=True,
        metavar="KEY=VALUE",
        help="A value for ${KEY} in the files (repeatable; beats the environment).",
    )
    return option(command)


def parse_variables(given: Iterable[str]) -> dict[str, str]:
    """``["A=1", "B=x=y"]`` → ``{"A": "1", "B": "x=y"}``; a bad one is a UsageError (exit 2)."""
    variables: dict[str, str] = {}
    for item in given:
        key, sep, value = item.partition("=")
        if not sep or not _NAME.fullmatch(key):
            raise UsageError(
                f"--var {item!r}: expected KEY=VALUE with KEY a variable name (BRANCH=main)"
            )
        variables[key] = value
    return variables


def load_plan(
    files: Sequence[Path], variables: Iterable[str], *, max_bytes: int | None = None
) -> Plan:
    """The files as one plan, ``--var`` values first, then the environment, for ``${VAR}``;
    each file at most ``max_bytes`` (the ``max_spec_bytes`` setting)."""
    from uet.spec import load_files  # noqa: PLC0415 - see the imports

    env = {**os.environ, **parse_variables(variables)}
    return load_files(files, env=env, max_bytes=max_bytes)


def print_warnings(warnings: Iterable[Problem]) -> None:
    """``warning: file: key: message``, one a line, on stderr."""
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)


def acceptance_of(plan: Plan) -> list[dict[str, Any]]:
    """For each task with acceptance entries: the commands it runs as its gate and the
    entries it gives the agent as instructions (a bundle's prose)."""
    return [
        {
            "task": task.key,
            "run": list(task.spec.acceptance),
            "instructions": list(task.spec.acceptance_instructions),
        }
        for task in plan.tasks
        if task.spec.acceptance or task.spec.acceptance_instructions
    ]


def acceptance_lines(plan: Plan) -> list[str]:
    """``acceptance_of`` as text: a heading per task, ``run:`` and ``tell:`` lines."""
    lines: list[str] = []
    for item in acceptance_of(plan):
        run, tell = item["run"], item["instructions"]
        lines.append(
            f"{item['task']}: runs {len(run)} acceptance command(s) in its clone, "
            f"gives {len(tell)} to the agent as instructions"
        )
        lines.extend(f"  run:  {entry}" for entry in run)
        lines.extend(f"  tell: {entry}" for entry in tell)
    return lines


def scripts_of(plan: Plan) -> list[dict[str, Any]]:
    """For each task made from a registry script: the script and the command it resolved to."""
    import shlex  # noqa: PLC0415 - validate only

    return [
        {
            "task": task.key,
            "script": task.spec.script,
            "command": task.spec.run
            if task.spec.run is not None
            else shlex.join(task.spec.argv or []),
        }
        for task in plan.tasks
        if task.spec.script is not None
    ]


def script_lines(plan: Plan) -> list[str]:
    """``scripts_of`` as text: ``ws/check: script lint: ruff check . --fix``."""
    return [f"{s['task']}: script {s['script']}: {s['command']}" for s in scripts_of(plan)]

"""A script made ready to run: parameters parsed and checked, substituted, arguments appended.

::

    values = bind(script, parse_param_options(script, ["env=prod", "replicas=3"]))
    invocation = render(script, values, args=["--verbose"])
    invocation.argv  # ('python', '-m', 'deploy', '--env', 'prod', '--replicas', '3', '--verbose')

Substitution, in the command, the ``env`` values and ``cwd``:

- ``${params.NAME}`` and ``${NAME}`` (NAME a parameter) become its value; ``${NAME:-text}``
  gives ``text`` when the value is empty. In a ``run`` shell string every value is
  shell-quoted (``'; rm -rf x'`` stays one word); elsewhere it is inserted as it is (no shell
  reads it).
- Any other ``${NAME}``: in ``run`` it is left for the shell (which expands it from the
  script's environment); in ``argv``, ``env`` and ``cwd`` it is the environment variable, as
  in workstream files (an error when it is unset and has no ``:-default``).
- ``$${`` is a literal ``${``.

Extra arguments are appended: to ``argv`` as they are, to ``run`` shell-quoted after a space.
"""

from __future__ import annotations

import math
import os
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from uet.errors import UsageError
from uet.spec.models import ParamValue, TaskSpec
from uet.spec.scripts.model import (
    REFERENCE,
    ParamSpec,
    ParamType,
    ScriptSpec,
    value_text,
)

_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})
_INTEGER = re.compile(r"[+-]?[0-9]{1,30}")
_SHOWN = 60  # characters of a bad value quoted in a message


class ScriptUsageError(UsageError):
    """A script asked for in a way it cannot run: an unknown or badly typed parameter, a
    required one missing, an unset variable. ``key`` locates it in a task (``("params",
    "env")``); ``problem`` is the message without the script's name."""

    def __init__(self, script: str, problem: str, key: tuple[str, ...] = ()) -> None:
        self.script = script
        self.problem = problem
        self.key = key
        super().__init__(f"script {script!r}: {problem}")


def shown(value: object) -> str:
    """A value for a message: quoted, cut when long."""
    text = repr(value)
    return text if len(text) <= _SHOWN else f"{text[: _SHOWN - 4]}...{text[-1]}"


def parse_param_options(script: ScriptSpec, given: Sequence[str]) -> dict[str, str]:
    """``--param NAME=VALUE`` options as ``{NAME: VALUE}``, names checked against the
    script's parameters (the value is checked by :func:`bind`)."""
    values: dict[str, str] = {}
    for item in given:
        name, sep, value = item.partition("=")
        if not sep or not name:
            problem = f"--param {shown(item)}: expected NAME=VALUE (e.g. --param env=staging)"
            raise ScriptUsageError(script.name, problem)
        if name not in script.params:
            known = ", ".join(script.params) or "none"
            problem = f"--param {shown(name)}: no such parameter (params: {known})"
            raise ScriptUsageError(script.name, problem)
        if name in values:
            raise ScriptUsageError(script.name, f"--param {name} is given twice")
        values[name] = value
    return values


def bind(script: ScriptSpec, given: Mapping[str, object]) -> dict[str, ParamValue]:
    """Every parameter's value: given (text from the command line, or typed from a
    workstream file), else its default, else ``""`` for an optional one."""
    values: dict[str, ParamValue] = {}
    for name in given:
        if name not in script.params:
            known = ", ".join(script.params) or "none"
            problem = f"param {shown(name)}: no such parameter (params: {known})"
            raise ScriptUsageError(script.name, problem, ("params", str(name)))
    for name, param in script.params.items():
        if name in given:
            try:
                values[name] = coerce(param, given[name])
            except ValueError as exc:
                raise ScriptUsageError(
                    script.name, f"param {name!r}: {exc}", ("params", name)
                ) from None
        elif param.default is not None:
            values[name] = param.default
        elif param.is_required:
            about = f": {param.description}" if param.description else ""
            problem = f"param {name!r} is required ({param.summary}{about})"
            raise ScriptUsageError(script.name, f"{problem}: give {name}=VALUE", ("params",))
        else:
            values[name] = ""
    return values


def coerce(param: ParamSpec, value: object) -> ParamValue:
    """``value`` as ``param``'s type; a ValueError says what is wrong."""
    if isinstance(value, str) and "\0" in value:
        raise ValueError("must not contain a NUL character")
    kind = param.type
    if kind is ParamType.BOOL:
        return _boolean(value)
    if kind is ParamType.INT:
        return _integer(value)
    if kind is ParamType.FLOAT:
        return _number(value)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {shown(value)} (quote it)")
    if kind is ParamType.CHOICE and value not in (param.choices or []):
        raise ValueError(f"expected one of {', '.join(param.choices or [])}, got {shown(value)}")
    if kind is ParamType.PATH and not value:
        raise ValueError("expected a path, got an empty value")
    return value


def _boolean(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
        return value.lower() in _TRUE
    raise ValueError(f"expected true or false (yes/no, on/off, 1/0), got {shown(value)}")


def _integer(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _INTEGER.fullmatch(value):
        return int(value)
    raise ValueError(f"expected a whole number, got {shown(value)}")


def _number(value: object) -> float:
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str) and value.strip() == value and value:
        try:
            number = float(value)
        except ValueError:
            number = None
    if number is None or not math.isfinite(number):
        raise ValueError(f"expected a finite number, got {shown(value)}")
    return number


@dataclass(frozen=True, slots=True)
class Invocation:
    """A script with its parameters bound: the command to run and where."""

    script: ScriptSpec
    params: Mapping[str, ParamValue]
    args: tuple[str, ...]
    run: str | None
    argv: tuple[str, ...] | None
    env: Mapping[str, str]
    cwd: str | None

    @property
    def command_text(self) -> str:
        """The command as it will run: the shell string, or the argv shell-quoted."""
        return self.run if self.run is not None else shlex.join(self.argv or ())

    def task(self, task_id: str | None = None) -> TaskSpec:
        """A task running this invocation with the script's settings."""
        script = self.script
        return TaskSpec(
            id=task_id or script.name,
            run=self.run,
            argv=list(self.argv) if self.argv is not None else None,
            timeout=script.timeout,
            retries=script.retries,
            retry_on=script.retry_on,
            env=dict(self.env),
            cwd=self.cwd,
            interactive=script.interactive,
            script=script.name,
            params=dict(self.params),
            args=list(self.args),
        )

    def to_dict(self) -> dict[str, Any]:
        script = self.script
        return {
            "script": script.name,
            "run": self.run,
            "argv": None if self.argv is None else list(self.argv),
            "command": self.command_text,
            "params": dict(self.params),
            "args": list(self.args),
            "env": dict(self.env),
            "cwd": self.cwd,
            "timeout": script.timeout,
            "retries": script.retries,
            "retry_on": script.retry_on,
            "interactive": script.interactive,
            "confirm": script.confirmation,
        }


def render(
    script: ScriptSpec,
    values: Mapping[str, ParamValue],
    args: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
) -> Invocation:
    """The invocation of ``script`` with bound ``values`` (see :func:`bind`) and extra
    ``args``; ``environ`` (default ``os.environ``) supplies other ``${VAR}`` of argv, env
    and cwd."""
    environ = os.environ if environ is None else environ
    texts = {name: value_text(value) for name, value in values.items()}
    for arg in args:
        if "\0" in arg:
            raise ScriptUsageError(script.name, "an argument contains a NUL character", ("args",))

    def expand(text: str, key: str, *, quoted: bool = False) -> str:
        return _expand(script.name, key, text, texts, environ, quoted=quoted)

    run = argv = None
    if script.run is not None:
        run = expand(script.run, "run", quoted=True)
        if args:
            run = f"{run} {' '.join(shlex.quote(arg) for arg in args)}"
    else:
        argv = (*(expand(word, "argv") for word in script.argv or []), *args)
    env = {name: expand(value, f"env.{name}") for name, value in script.env.items()}
    cwd = None if script.cwd is None else expand(script.cwd, "cwd")
    return Invocation(script, dict(values), tuple(args), run, argv, env, cwd)


def _expand(
    script: str,
    key: str,
    text: str,
    values: Mapping[str, str],
    environ: Mapping[str, str],
    *,
    quoted: bool,
) -> str:
    """``text`` substituted; ``quoted``: for a shell string (values quoted, other
    variables left for the shell)."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        name, default = match.group(2), match.group(3)
        if name in values:
            value = values[name] if (default is None or values[name]) else default
            return shlex.quote(value) if quoted else value
        if quoted:
            return match.group(0)  # the shell's own variable
        found = environ.get(name)
        if default is not None and not found:
            return default
        if found is None:
            problem = (
                f"{key}: environment variable {name} is not set (export it, or write "
                f"${{{name}:-default}}; $${{{name}}} is a literal ${{{name}}})"
            )
            raise ScriptUsageError(script, problem, ("script",))
        return found

    return REFERENCE.sub(replace, text)


def prepare(
    script: ScriptSpec,
    param_options: Sequence[str] = (),
    args: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
) -> Invocation:
    """``uet scripts run``'s work before anything runs: ``--param`` options parsed, typed and
    bound, the command rendered. Raises :class:`ScriptUsageError` (exit 2)."""
    return render(script, bind(script, parse_param_options(script, param_options)), args, environ)

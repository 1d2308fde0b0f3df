"""Registry scripts: a named command with typed parameters and the settings it runs with.

::

    [scripts.deploy-dry-run]
    description = "Show what a deploy would do"
    argv = ["python", "-m", "deploy", "--env", "${params.env}", "--dry-run"]
    params.env = {type = "choice", choices = ["staging", "prod"], default = "staging"}
    timeout = 300

A script has exactly one of ``run`` (a shell string, run by ``/bin/sh -c``) and ``argv``
(exec form). Parameters are substituted with ``${params.NAME}`` or ``${NAME}``
(:mod:`uet.spec.scripts.render`); a ``${params.NAME}`` naming no parameter is an error here.
"""

from __future__ import annotations

import enum
import math
import re
import shlex
from typing import Annotated

import pydantic

from uet.spec._bounds import Command, Env, Retries, RetryOn, Timeout
from uet.spec.models import ID_PATTERN, ParamValue

SCRIPT_NAME_PATTERN = ID_PATTERN
"""``^[a-z0-9][a-z0-9._-]*$``: a script's name is also a task id."""
PARAM_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
"""A parameter's name is what ``${NAME}`` can name."""

_AMBIGUOUS = re.compile(r"[\s'\"\\]")
REFERENCE = re.compile(r"\$\$\{|\$\{(params\.)?([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
"""``${params.NAME}``, ``${NAME}``, ``${NAME:-default}``, and the ``$${`` escape."""


class ParamType(enum.StrEnum):
    """What a parameter's value must be."""

    STR = "str"  # any text
    INT = "int"  # a whole number
    FLOAT = "float"  # a number
    BOOL = "bool"  # true/false, yes/no, on/off, 1/0
    CHOICE = "choice"  # one of ``choices``
    PATH = "path"  # a file or folder name (not empty); relative to the script's cwd


class _Model(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)


class ParamSpec(_Model):
    """One parameter: its type, default, the choices of a ``choice``, whether it is needed.

    Without ``required``, a parameter is required when it has no default; ``required:
    false`` without a default substitutes the empty string when it is not given.
    """

    type: ParamType = ParamType.STR
    default: ParamValue | None = None
    choices: list[Annotated[str, pydantic.Field(min_length=1)]] | None = pydantic.Field(
        None, min_length=1
    )
    description: str | None = None
    required: bool | None = None

    @pydantic.model_validator(mode="after")
    def _consistent(self) -> ParamSpec:
        if self.type is ParamType.CHOICE and not self.choices:
            raise ValueError("a choice parameter needs choices: [a, b, ...]")
        if self.type is not ParamType.CHOICE and self.choices is not None:
            raise ValueError(f"choices are for type: choice (this one is {self.type.value})")
        if self.required and self.default is not None:
            raise ValueError("a required parameter has no default (drop one of them)")
        if self.default is not None:
            problem = default_problem(self, self.default)
            if problem is not None:
                raise ValueError(f"default {problem}")
        return self

    @property
    def is_required(self) -> bool:
        return self.required if self.required is not None else self.default is None

    @property
    def summary(self) -> str:
        """``int = 3``, ``choice(staging|prod) = staging``, ``path (required)``."""
        kind = self.type.value
        if self.choices:
            kind = f"{kind}({'|'.join(self.choices)})"
        if self.default is not None:
            return f"{kind} = {value_text(self.default)}"
        return f"{kind} (required)" if self.is_required else f"{kind} (optional)"


def default_problem(param: ParamSpec, value: ParamValue) -> str | None:
    """What is wrong with a default (typed in the file, so no text is parsed), or None."""
    kind = param.type
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if kind is ParamType.BOOL:
        ok, expected = isinstance(value, bool), "true or false"
    elif kind is ParamType.INT:
        ok, expected = number and isinstance(value, int), "a whole number"
    elif kind is ParamType.FLOAT:
        ok, expected = number and math.isfinite(float(value)), "a number"
    elif not isinstance(value, str):
        ok, expected = False, "a string (quote it)"
    elif kind is ParamType.CHOICE:
        ok, expected = value in (param.choices or []), f"one of {', '.join(param.choices or [])}"
    else:
        ok, expected = bool(value) or kind is not ParamType.PATH, "a path, not empty"
    return None if ok else f"must be {expected}, got {value!r}"


def value_text(value: ParamValue) -> str:
    """A value as it is substituted: ``true``/``false`` for booleans, numbers as written."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class ScriptSpec(_Model):
    """One script of the registry. ``name`` and ``source`` are set by the loader."""

    name: str = pydantic.Field(pattern=SCRIPT_NAME_PATTERN)
    source: str = ""  # the files that defined it: "uet.toml + config/scripts.yaml"
    run: Command | None = None  # shell string, run by /bin/sh -c
    argv: list[Command] | None = pydantic.Field(None, min_length=1)  # exec form, no shell
    description: str | None = None
    params: dict[Annotated[str, pydantic.Field(pattern=PARAM_NAME_PATTERN)], ParamSpec] = (
        pydantic.Field(default_factory=dict)
    )
    timeout: Timeout | None = None  # seconds
    retries: Retries | None = None
    retry_on: RetryOn | None = None
    env: Env = pydantic.Field(default_factory=dict)
    cwd: Command | None = None  # relative to the project root
    interactive: bool = False  # needs a terminal: refused in non-interactive mode
    confirm: bool | Annotated[str, pydantic.Field(min_length=1)] | None = None

    @pydantic.model_validator(mode="after")
    def _command(self) -> ScriptSpec:
        given = [key for key in ("run", "argv") if getattr(self, key) is not None]
        if len(given) != 1:
            found = f"has {' and '.join(given)}" if given else "has none"
            raise ValueError(f"a script needs exactly one of run, argv ({found})")
        for text in self.templates():
            for match in REFERENCE.finditer(text):
                name = match.group(2)
                if match.group(1) and name not in self.params:
                    known = ", ".join(self.params) or "none"
                    raise ValueError(
                        f"${{params.{name}}} names no parameter (params: {known}); "
                        f"declare it under params.{name}"
                    )
        return self

    def templates(self) -> list[str]:
        """The strings parameters are substituted into: the command, env values, cwd."""
        texts = [self.run] if self.run is not None else list(self.argv or [])
        texts.extend(self.env.values())
        if self.cwd is not None:
            texts.append(self.cwd)
        return texts

    @property
    def confirmation(self) -> str | None:
        """The question asked before it runs, or None when it runs without asking."""
        if self.confirm is None or self.confirm is False:
            return None
        if self.confirm is True:
            return f"Run script {self.name!r}?"
        return self.confirm

    @property
    def command_text(self) -> str:
        """The command as written (before substitution), for listings: words quoted only
        where a space or a quote would make them ambiguous."""
        if self.run is not None:
            return self.run
        return " ".join(
            shlex.quote(word) if not word or _AMBIGUOUS.search(word) else word
            for word in self.argv or []
        )

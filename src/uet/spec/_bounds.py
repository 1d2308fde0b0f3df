"""The bounded value types of workstream files, shared by every format's model.

A number a file gives must be something the run can live with: a timeout is finite and at
most 7 days, retries at most 100, concurrency at most 10,000, a retry delay at most a day
(``uet.defaults``), never NaN or infinite, and never a boolean (``retries: true`` is a
mistake, not 1). Environment names are what a shell can export, and no string that reaches
``exec`` holds a NUL. Each native field and its legacy counterpart (``timeout`` and
``timeout_sec``…) use the same type, so a converted file never fails the native model.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Literal

import pydantic
from pydantic_core import PydanticCustomError

from uet import defaults

ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"

NOT_A_BOOLEAN = "number_not_boolean"
"""Error type of a boolean given where a number goes."""
NUL_CHARACTER = "nul_character"
"""Error type of a string holding a NUL character."""


def _a_number(value: object) -> object:
    """Refuse a boolean, and NaN or an infinity however spelled (``"inf"`` too), up front."""
    if isinstance(value, bool):
        raise PydanticCustomError(NOT_A_BOOLEAN, "expected a number, not a boolean")
    try:
        number = float(value) if isinstance(value, str | float) else 0.0
    except ValueError:
        return value  # not a number at all: the field's type says so
    if not math.isfinite(number):
        raise PydanticCustomError("finite_number", "expected a finite number")
    return value


def _no_nul(value: str) -> str:
    if "\0" in value:
        raise PydanticCustomError(NUL_CHARACTER, "must not contain a NUL character")
    return value


_Number = pydantic.BeforeValidator(_a_number)

Timeout = Annotated[
    float, _Number, pydantic.Field(gt=0, le=defaults.MAX_TIMEOUT_S, allow_inf_nan=False)
]
"""Seconds, more than 0, at most 7 days."""

PlanTimeout = Annotated[
    float, _Number, pydantic.Field(ge=0, le=defaults.MAX_TIMEOUT_S, allow_inf_nan=False)
]
"""A plan's ``timeout_sec``: seconds, at most 7 days; 0 means the plan's default (as in the
originals)."""
RetryDelay = Annotated[
    float, _Number, pydantic.Field(ge=0, le=defaults.MAX_RETRY_DELAY_S, allow_inf_nan=False)
]
"""Seconds, 0 to 1 day."""

Retries = Annotated[int, _Number, pydantic.Field(ge=0, le=defaults.MAX_RETRIES)]
"""Attempts after the first, 0 to 100."""

Concurrency = Annotated[int, _Number, pydantic.Field(ge=1, le=defaults.MAX_CONCURRENCY)]
"""Tasks at once, 1 to 10,000."""

Count = Annotated[int, _Number, pydantic.Field(ge=1, le=100)]
"""A small count of tries or repeats, 1 to 100."""

Command = Annotated[str, pydantic.AfterValidator(_no_nul)]
"""A string that reaches ``exec`` or a shell: a command, an argument, a folder."""

EnvName = Annotated[str, pydantic.Field(pattern=ENV_NAME_PATTERN)]
EnvValue = Annotated[str, pydantic.AfterValidator(_no_nul)]
Env = dict[EnvName, EnvValue]
"""Environment variables: names a shell can export, values without NUL."""


def _retry_on(value: object) -> list[int] | str:
    """``[1, 75]`` (exit statuses 1-255) or a non-empty regular expression."""
    if isinstance(value, str):
        if not value:
            raise PydanticCustomError("retry_on", "expected exit codes or a regex, not ''")
        try:
            re.compile(value)
        except re.error as exc:
            raise PydanticCustomError(
                "regex", "not a valid regular expression: {why}", {"why": str(exc)}
            ) from None
        return value
    codes = [value] if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(codes, list) or not codes:
        raise PydanticCustomError("retry_on", "expected a list of exit codes or a regex")
    for code in codes:
        if isinstance(code, bool) or not isinstance(code, int) or not 1 <= code <= 255:
            raise PydanticCustomError(
                "retry_on",
                "exit codes are whole numbers 1 to 255, not {code}",
                {"code": repr(code)},
            )
    return list(codes)


RetryOn = Annotated[list[int] | str, pydantic.PlainValidator(_retry_on)]
"""``retry_on``: the exit codes worth a retry, or a regex searched in the output's tail."""

FileBytes = Annotated[int, _Number, pydantic.Field(ge=1, le=1 << 40)]
"""A file size in bytes, 1 byte to 1 TiB (a task's ``max_file_bytes``)."""

SandboxMode = Literal["none", "auto", "required"]
"""Where a tool process runs: ``none`` as uet does, ``auto`` in the sandbox when it can
start here (else said once and recorded), ``required`` only in the sandbox (docs/security.md)."""

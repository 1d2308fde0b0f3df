"""Key paths and messages: turning what pydantic says into problems a user can act on.

A location inside a file is a tuple of keys and list indexes, ``("tasks", 2, "depends_on",
0)``, printed as ``tasks[2].depends_on[0]``. Pydantic's validation errors are translated
into :class:`~uet.errors.Problem` s here, so no raw ``ValidationError`` ever reaches a user.
"""

from __future__ import annotations

import difflib
import re
import reprlib
import types
import typing
from collections.abc import Collection, Iterable, Sequence
from typing import Any

import pydantic
from pydantic_core import ErrorDetails

from uet import defaults
from uet.errors import Problem
from uet.spec._bounds import ENV_NAME_PATTERN, NOT_A_BOOLEAN, NUL_CHARACTER
from uet.spec.models import ID_PATTERN

Loc = tuple[int | str, ...]

SUGGEST_AMONG = 200
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_REPR = reprlib.Repr()
_REPR.maxstring = 60
_REPR.maxother = 60
_LONG_INT_BITS = 200  # about 60 digits: what maxother would cut anyway

_EXPECTED = {
    "string_type": "expected a string",
    "int_type": "expected a whole number",
    "int_parsing": "expected a whole number",
    "int_from_float": "expected a whole number",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "list_type": "expected a list",
    "dict_type": "expected a mapping",
    "model_type": "expected a mapping",
    "model_attributes_type": "expected a mapping",
    NOT_A_BOOLEAN: "expected a number",
    "finite_number": "expected a finite number",
}
_IN_WORDS = {
    defaults.MAX_TIMEOUT_S: "7 days",
    defaults.MAX_RETRY_DELAY_S: "1 day",
}
"""Limits that read better with their unit, in seconds: ``at most 604800 (7 days)``."""
_KINDS: tuple[tuple[type, str], ...] = (
    (bool, "a boolean"),
    (int, "a whole number"),
    (float, "a number"),
    (str, "a string"),
    (list, "a list"),
    (dict, "a mapping"),
)
_BOUNDS = {
    "greater_than": ("must be greater than", "gt"),
    "greater_than_equal": ("must be at least", "ge"),
    "less_than": ("must be less than", "lt"),
    "less_than_equal": ("must be at most", "le"),
}


def format_path(loc: Iterable[int | str]) -> str:
    """``tasks[2].depends_on[0]``; keys that are not plain words are quoted: ``env['A B']``."""
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif _PLAIN_KEY.fullmatch(item):
            parts.append(f".{item}" if parts else item)
        else:
            parts.append(f"[{item!r}]")
    return "".join(parts)


def describe(value: object) -> str:
    """A short, readable rendering of a value found in a file: ``'abc'``, ``[1, 2]``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and value.bit_length() > _LONG_INT_BITS:
        return f"a number of about {value.bit_length() * 3 // 10} digits"  # repr() may refuse
    return _REPR.repr(value)


def kind_of(value: object) -> str:
    """What a value is, in the words of YAML and JSON: a string, a list, a mapping…"""
    if value is None:
        return "null"
    for kind, name in _KINDS:  # bool before int: True is an int too
        if isinstance(value, kind):
            return name
    return type(value).__name__


def got(value: object) -> str:
    """``got a list [1, 2]``: what was found instead of what was expected."""
    return "got null" if value is None else f"got {kind_of(value)} {describe(value)}"


def suggest(word: str, known: Collection[str]) -> str:
    """`` (did you mean 'x'?)`` when a close match exists, else an empty string.

    Only among up to ``SUGGEST_AMONG`` names: a typo in a file of a hundred thousand tasks
    is still reported at once, just without a guess.
    """
    if len(known) > SUGGEST_AMONG:
        return ""
    matches = difflib.get_close_matches(word, list(known), n=1, cutoff=0.75)
    return f" (did you mean {matches[0]!r}?)" if matches else ""


def translate(
    error: pydantic.ValidationError, file: str, prefix: Loc, model: type[pydantic.BaseModel]
) -> list[Problem]:
    """One problem per pydantic error, located at ``prefix`` + the error's location."""
    problems = []
    for details in error.errors(include_url=False):
        loc = tuple(item for item in details["loc"] if item != "[key]")
        problems.append(Problem(file, format_path(prefix + loc), _message(details, model)))
    return problems


def _message(details: ErrorDetails, model: type[pydantic.BaseModel]) -> str:
    kind, value, ctx = details["type"], details["input"], details.get("ctx", {})
    special = _key_message(details) or _number_message(kind, value, ctx)
    if special is not None:
        message = special
    elif kind == "extra_forbidden":
        message = _unknown_key(model, tuple(details["loc"]))
    elif kind == "missing":
        message = "required key is missing"
    elif kind in _EXPECTED:
        message = f"{_EXPECTED[kind]}, {got(value)}"
    elif kind == NUL_CHARACTER:
        message = "must not contain a NUL character"
    elif kind in ("enum", "literal_error"):
        message = f"must be {ctx['expected']}, got {describe(value)}"
    elif kind == "too_short" and ctx.get("min_length") == 1:
        message = "must not be empty"
    elif kind == "string_pattern_mismatch":
        message = _bad_id(value, str(ctx.get("pattern", "")))
    else:
        text = details["msg"]
        message = f"{text[:1].lower()}{text[1:]}, got {describe(value)}"
    return message


def _key_message(details: ErrorDetails) -> str | None:
    """What is wrong with a mapping's key (an environment variable's name…), if it is one."""
    kind, value = details["type"], details["input"]
    if details["loc"][-1:] != ("[key]",) and kind != "invalid_key":
        return None
    if kind == "string_pattern_mismatch":
        return _bad_id(value, str(details.get("ctx", {}).get("pattern", "")))
    return f"keys must be strings, {got(value)}"


def _number_message(kind: str, value: object, ctx: dict[str, Any]) -> str | None:
    """A number out of its bounds or too large to be one, in the file's words."""
    if kind in _BOUNDS:
        return _out_of_bounds(kind, ctx, value)
    huge_int = kind == "float_type" and isinstance(value, int) and not isinstance(value, bool)
    if huge_int or kind == "int_parsing_size":
        return f"the number is too large, got {describe(value)}"
    return None


def _out_of_bounds(kind: str, ctx: dict[str, Any], value: object) -> str:
    words, bound = _BOUNDS[kind]
    limit = ctx[bound]
    unit = f" ({_IN_WORDS[limit]})" if limit in _IN_WORDS else ""
    limit = int(limit) if isinstance(limit, float) and limit.is_integer() else limit
    return f"{words} {limit}{unit}, got {describe(value)}"


def _bad_id(value: object, pattern: str) -> str:
    chars = "lowercase letters, digits, '.', '_' and '-'"
    if pattern == ENV_NAME_PATTERN:
        return (
            f"{describe(value)} is not a valid environment variable name: use letters, digits"
            " and '_', not starting with a digit"
        )
    if pattern == ID_PATTERN:
        rule = f"use {chars}, starting with a letter or digit"
    elif pattern.startswith("^ws-"):
        rule = f"use 'ws-' followed by {chars}"
    else:
        rule = f"it must match {pattern}"
    return f"{describe(value)} is not a valid id: {rule}"


def _unknown_key(model: type[pydantic.BaseModel], loc: Loc) -> str:
    key = str(loc[-1])
    known = _keys_at(model, loc[:-1])
    if not known:
        return f"unknown key {key!r}"
    hint = suggest(key, known) or f" (known: {', '.join(sorted(known))})"
    return f"unknown key {key!r}{hint}"


def _keys_at(model: type[pydantic.BaseModel], loc: Sequence[int | str]) -> set[str]:
    """The keys the model accepts at ``loc`` (the mapping that holds an unknown key)."""
    annotation: Any = model
    for item in loc:
        annotation = _child(annotation, item)
    target = _strip_none(annotation)
    if isinstance(target, type) and issubclass(target, pydantic.BaseModel):
        return set(target.model_fields)
    return set()


def _child(annotation: Any, item: int | str) -> Any:
    """The type found one step inside ``annotation`` (a model, a list or a dict)."""
    annotation = _strip_none(annotation)
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        field = annotation.model_fields.get(str(item))
        return None if field is None else field.annotation
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is list and args:
        return args[0]
    if origin is dict and len(args) == 2:
        return args[1]
    return None


def _strip_none(annotation: Any) -> Any:
    """``X | None`` → ``X``; anything else unchanged."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        others = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(others) == 1:
            return others[0]
    return annotation

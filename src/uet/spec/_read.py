"""Reading a workstream file into plain data, with parse errors as problems, never tracebacks.

``.json`` files are read as JSON; everything else as YAML (a superset of JSON). The YAML
reader is PyYAML's safe loader (libyaml's when available) with two changes that suit
workstream files: a key given twice in one mapping is an error instead of a silent override,
and dates stay strings (``2024-05-01`` is a version or a tag, not a ``datetime``).

Reading is bounded: a file that is not a regular file (a directory, a FIFO, a device such as
``/dev/zero``) or that is larger than ``max_bytes`` (default 16 MiB, the setting
``max_spec_bytes``) is refused before its content is read, and at most ``max_bytes + 1``
bytes are ever read. A number no run can use is a problem at its key path wherever it is:
an integer of more than 100 digits (Python refuses to parse 4,300, and nothing uet reads
needs 20), NaN or an infinity (``.nan``, ``.inf``, ``1e999``, JSON's ``NaN``).
"""

from __future__ import annotations

import json
import math
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from uet import defaults
from uet.errors import Problem
from uet.spec._problems import Loc, describe, format_path, got

try:
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # pragma: no cover - PyYAML built without libyaml: the pure-Python parser
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]

JSON_SUFFIXES = frozenset({".json"})


class LongInteger:
    """Stands in for an integer too long to be a number uet can use (see :func:`_unusable`)."""

    __slots__ = ("digits",)

    def __init__(self, digits: int) -> None:
        self.digits = digits


class _WorkstreamLoader(_SafeLoader):
    """Safe YAML, strict about duplicate keys, dates kept as text, long integers not parsed."""

    unusable_numbers = False  # set when a number was found that a run cannot use
    may_have_aliases = True  # False when the text has no '*': no alias to expand

    def get_single_data(self) -> Any:
        """The document, refused when its aliases expand it past ``MAX_YAML_VALUES``."""
        node = self.get_single_node()
        if node is None:
            return None
        if self.may_have_aliases and _expanded_size(node, {}) > defaults.MAX_YAML_VALUES:
            raise yaml.YAMLError(
                f"its aliases expand to more than {defaults.MAX_YAML_VALUES:,} values"
                " (an alias bomb?)"
            )
        return self.construct_document(node)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        _reject_duplicate_keys(node)
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return mapping


def _reject_duplicate_keys(node: yaml.MappingNode) -> None:
    """Raise a located YAML error when a scalar key repeats (merge keys ``<<`` may override)."""
    seen: set[tuple[str, str]] = set()
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = (key_node.tag, key_node.value)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                "while reading a mapping",
                node.start_mark,
                f"found the key {key_node.value!r} twice",
                key_node.start_mark,
            )
        seen.add(key)


def _expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    """How many values ``node`` becomes with every alias expanded (each node counted once)."""
    known = sizes.get(id(node))
    if known is not None:
        return known
    sizes[id(node)] = 1  # a recursive alias counts once
    size = 1
    if isinstance(node, yaml.SequenceNode):
        size += sum(_expanded_size(item, sizes) for item in node.value)
    elif isinstance(node, yaml.MappingNode):
        size += sum(_expanded_size(k, sizes) + _expanded_size(v, sizes) for k, v in node.value)
    sizes[id(node)] = size
    return size


def _timestamp_as_text(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    return str(loader.construct_scalar(node))  # type: ignore[arg-type]


def _yaml_int(loader: _WorkstreamLoader, node: yaml.ScalarNode) -> int | LongInteger:
    text = str(loader.construct_scalar(node))
    if _too_long(text):
        loader.unusable_numbers = True
        return LongInteger(len(text))
    number: int = loader.construct_yaml_int(node)
    return number


def _yaml_float(loader: _WorkstreamLoader, node: yaml.ScalarNode) -> float:
    number: float = loader.construct_yaml_float(node)
    if not math.isfinite(number):
        loader.unusable_numbers = True
    return number


_WorkstreamLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_as_text)
_WorkstreamLoader.add_constructor("tag:yaml.org,2002:int", _yaml_int)
_WorkstreamLoader.add_constructor("tag:yaml.org,2002:float", _yaml_float)


def read_data(path: Path, max_bytes: int = defaults.MAX_SPEC_BYTES) -> tuple[Any, list[Problem]]:
    """The file's data and its problems: ``(None, problems)`` when it cannot be read or parsed.

    Data comes with problems when it holds numbers no run can use (each located): the rest
    of the file can still be checked, so that every problem is reported at once.
    """
    text, message = _read_text(path, max_bytes)
    if text is not None:
        parse = _parse_json if path.suffix.lower() in JSON_SUFFIXES else _parse_yaml
        data, message, unusable = parse(text)
        if message is None and data is None:
            message = "the file is empty"
        if message is None:
            found = _unusable(data) if unusable else ()
            return data, [Problem(str(path), format_path(loc), why) for loc, why in found]
    return None, [Problem(str(path), "", message or "cannot read")]


def _read_text(path: Path, max_bytes: int) -> tuple[str | None, str | None]:
    """The file's text (a UTF-8 byte-order mark dropped), or why it cannot be had.

    Checked before reading: a regular file, not larger than ``max_bytes``; then read with a
    bound, since a file can grow (or be swapped) between the check and the read.
    """
    try:
        info = path.stat()
        found = _not_a_file(info.st_mode) or _too_big(info.st_size, max_bytes)
        if found:
            return None, found
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)  # a FIFO: no wait
        with os.fdopen(descriptor, "rb") as handle:
            found = _not_a_file(os.fstat(handle.fileno()).st_mode)
            content = b"" if found else handle.read(max_bytes + 1)
        found = found or _too_big(len(content), max_bytes)
        if found:
            return None, found
        return content.decode("utf-8-sig"), None
    except FileNotFoundError:
        return None, "file not found"
    except UnicodeDecodeError as exc:
        return None, f"not UTF-8 text (bad byte at offset {exc.start})"
    except OSError as exc:
        return None, f"cannot read: {exc.strerror or exc}"


_NOT_FILES = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _not_a_file(mode: int) -> str | None:
    """Why a file of this mode is no workstream file, or None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    kind = next((name for test, name in _NOT_FILES if test(mode)), "not a regular file")
    return f"is {kind}, not a workstream file"


def _too_big(size: int, max_bytes: int) -> str | None:
    if size <= max_bytes:
        return None
    return (
        f"is larger than {_size(max_bytes)}, the most a workstream file may have"
        " (the setting max_spec_bytes, UET_MAX_SPEC_BYTES, raises it)"
    )


def _size(count: int) -> str:
    mib = count / (1024 * 1024)
    return f"{mib:g} MiB" if mib >= 1 else f"{count} bytes"


def _too_long(digits: str) -> bool:
    return len(digits) > defaults.MAX_INT_DIGITS + 1  # a sign may come first


def _unusable(data: Any) -> Iterator[tuple[Loc, str]]:
    """Where ``data`` holds a number a run cannot use: too long an integer, NaN, infinity.

    Only walked when the parser saw one; iterative, and each container visited once (YAML
    aliases share them), so no file makes it slow or deep.
    """
    seen: set[int] = set()
    stack: list[tuple[Loc, Any]] = [((), data)]
    while stack:
        loc, value = stack.pop()
        if isinstance(value, dict | list):
            if id(value) in seen:
                continue
            seen.add(id(value))
            items = list(value.items() if isinstance(value, dict) else enumerate(value))
            for key, item in reversed(items):  # popped in the file's order
                if isinstance(key, LongInteger | float):
                    stack.append((loc, key))
                else:
                    stack.append(((*loc, key if isinstance(key, int | str) else str(key)), item))
        elif isinstance(value, LongInteger):
            yield (
                loc,
                (
                    f"a whole number of {value.digits} digits is out of range"
                    f" (at most {defaults.MAX_INT_DIGITS} digits)"
                ),
            )
        elif isinstance(value, float) and not math.isfinite(value):
            yield loc, f"expected a finite number, {got(value)}"


def _parse_json(text: str) -> tuple[Any, str | None, bool]:
    duplicates: list[str] = []
    unusable: list[bool] = []

    def integer(digits: str) -> int | LongInteger:
        if _too_long(digits):
            unusable.append(True)
            return LongInteger(len(digits))
        return int(digits)

    def number(digits: str) -> float:
        value = float(digits)
        if not math.isfinite(value):  # 1e999
            unusable.append(True)
        return value

    def constant(name: str) -> float:  # NaN, Infinity, -Infinity
        unusable.append(True)
        return float(name)

    def build(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        mapping = dict(pairs)
        if len(mapping) < len(pairs):
            duplicates.extend(_repeated(pairs))
        return mapping

    try:
        data = json.loads(
            text,
            object_pairs_hook=build,
            parse_int=integer,
            parse_float=number,
            parse_constant=constant,
        )
    except json.JSONDecodeError as exc:
        return None, f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})", False
    except RecursionError:
        return None, "not valid JSON: nested too deeply", False
    if duplicates:
        message = f"not valid JSON: key {describe(duplicates[0])} given twice in one object"
        return None, message, False
    return data, None, bool(unusable)


def _repeated(pairs: list[tuple[str, Any]]) -> list[str]:
    seen: set[str] = set()
    repeated = []
    for key, _ in pairs:
        if key in seen:
            repeated.append(key)
        seen.add(key)
    return repeated


def _parse_yaml(text: str) -> tuple[Any, str | None, bool]:
    loader = _WorkstreamLoader(text)  # what yaml.load does, keeping the loader to ask it after
    loader.may_have_aliases = "*" in text
    try:
        return loader.get_single_data(), None, loader.unusable_numbers
    except yaml.MarkedYAMLError as exc:
        return None, _yaml_message(exc), False
    except yaml.YAMLError as exc:
        return None, f"not valid YAML: {exc}", False
    except RecursionError:
        return None, "not valid YAML: nested too deeply", False
    except (ValueError, TypeError, OverflowError) as exc:  # a typed scalar: `!!int abc`
        return None, f"not valid YAML: {exc}", False
    finally:
        loader.dispose()


def _yaml_message(exc: yaml.MarkedYAMLError) -> str:
    """``not valid YAML: <problem> (line L, column C)``, 1-based like editors count."""
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or exc.context or "syntax error"
    if mark is None:
        return f"not valid YAML: {problem}"
    return f"not valid YAML: {problem} (line {mark.line + 1}, column {mark.column + 1})"

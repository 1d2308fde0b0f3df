"""Reading a workstream file into plain data, with parse errors as problems, never tracebacks.

``.json`` files are read as JSON; everything else as YAML (a superset of JSON). The YAML
reader is PyYAML's safe loader (libyaml's when available) with two changes that suit
workstream files: a key given twice in one mapping is an error instead of a silent override,
and dates stay strings (``2024-05-01`` is a version or a tag, not a ``datetime``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from uet.errors import Problem
from uet.spec._problems import describe

try:
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # pragma: no cover - PyYAML built without libyaml: the pure-Python parser
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]

JSON_SUFFIXES = frozenset({".json"})


class _WorkstreamLoader(_SafeLoader):
    """Safe YAML, strict about duplicate keys, dates kept as text."""

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


def _timestamp_as_text(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    return str(loader.construct_scalar(node))  # type: ignore[arg-type]


_WorkstreamLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_as_text)


def read_data(path: Path) -> tuple[Any, list[Problem]]:
    """The file's data, or ``(None, problems)`` when it cannot be read or parsed."""
    text, message = _read_text(path)
    if text is not None:
        parse = _parse_json if path.suffix.lower() in JSON_SUFFIXES else _parse_yaml
        data, message = parse(text)
        if message is None and data is None:
            message = "the file is empty"
        if message is None:
            return data, []
    return None, [Problem(str(path), "", message or "cannot read")]


def _read_text(path: Path) -> tuple[str | None, str | None]:
    """The file's text (a UTF-8 byte-order mark dropped), or why it cannot be had."""
    try:
        return path.read_text(encoding="utf-8-sig"), None
    except FileNotFoundError:
        return None, "file not found"
    except IsADirectoryError:
        return None, "is a directory, not a workstream file"
    except UnicodeDecodeError as exc:
        return None, f"not UTF-8 text (bad byte at offset {exc.start})"
    except OSError as exc:
        return None, f"cannot read: {exc.strerror or exc}"


def _parse_json(text: str) -> tuple[Any, str | None]:
    duplicates: list[str] = []

    def build(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        mapping = dict(pairs)
        if len(mapping) < len(pairs):
            duplicates.extend(_repeated(pairs))
        return mapping

    try:
        data = json.loads(text, object_pairs_hook=build)
    except json.JSONDecodeError as exc:
        return None, f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
    except RecursionError:
        return None, "not valid JSON: nested too deeply"
    if duplicates:
        return None, f"not valid JSON: key {describe(duplicates[0])} given twice in one object"
    return data, None


def _repeated(pairs: list[tuple[str, Any]]) -> list[str]:
    seen: set[str] = set()
    repeated = []
    for key, _ in pairs:
        if key in seen:
            repeated.append(key)
        seen.add(key)
    return repeated


def _parse_yaml(text: str) -> tuple[Any, str | None]:
    try:
        return yaml.load(text, Loader=_WorkstreamLoader), None  # noqa: S506 - a safe loader
    except yaml.MarkedYAMLError as exc:
        return None, _yaml_message(exc)
    except yaml.YAMLError as exc:
        return None, f"not valid YAML: {exc}"
    except RecursionError:
        return None, "not valid YAML: nested too deeply"
    except (ValueError, TypeError, OverflowError) as exc:  # a typed scalar: `!!int abc`
        return None, f"not valid YAML: {exc}"


def _yaml_message(exc: yaml.MarkedYAMLError) -> str:
    """``not valid YAML: <problem> (line L, column C)``, 1-based like editors count."""
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or exc.context or "syntax error"
    if mark is None:
        return f"not valid YAML: {problem}"
    return f"not valid YAML: {problem} (line {mark.line + 1}, column {mark.column + 1})"

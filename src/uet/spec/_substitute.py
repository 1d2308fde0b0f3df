"""``${VAR}`` substitution in the string values a workstream file says may carry variables.

Syntax (a small, predictable subset of the shell's):

- ``${NAME}``: the value of NAME; an error when NAME is not set (an empty value is fine).
  Values come from ``uet run --var NAME=VALUE`` first, then the environment.
- ``${NAME:-default}``: the value of NAME, or ``default`` when NAME is unset or empty.
- ``$${...}``: a literal ``${...}``, e.g. to leave ``$${HOME}`` for the shell of a ``run``.

Anything else (``$NAME``, ``${#NAME}``, ``${NAME%.txt}``) is left as written, for the shell.
Defaults do not nest. Substitution happens on the raw data of a file, before validation, at
the locations a format lists as patterns: tuples of keys where ``"*"`` matches every key of
a mapping or every item of a list.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from uet.spec._problems import Loc

Pattern = tuple[str, ...]

_TOKEN = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand(text: str, env: Mapping[str, str]) -> tuple[str, list[str]]:
    """``text`` with its variables substituted, and the names that were needed but unset."""
    missing: list[str] = []

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name is None:  # the $${ escape
            return "${"
        value = env.get(name)
        if default is not None and not value:
            return default
        if value is None:
            missing.append(name)
            return match.group(0)
        return value

    return _TOKEN.sub(replace, text), missing


def substitute(
    data: object, patterns: Sequence[Pattern], env: Mapping[str, str]
) -> list[tuple[Loc, str]]:
    """Substitute, in place, every string of ``data`` at a location matching a pattern.

    Returns ``(location, message)`` for every unset variable; values that are not strings
    are left for validation to report. One walk over the data, whatever the patterns.
    """
    problems: list[tuple[Loc, str]] = []
    _walk(data, _trie(patterns), (), env, problems)
    return problems


Trie = dict[str, "Trie"]


def _trie(patterns: Sequence[Pattern]) -> Trie:
    """The patterns as nested dicts: ``{"tasks": {"*": {"run": {}}}}``; ``{}`` marks a leaf."""
    root: Trie = {}
    for pattern in patterns:
        node = root
        for part in pattern:
            node = node.setdefault(part, {})
    return root


def _walk(
    node: object, trie: Trie, loc: Loc, env: Mapping[str, str], out: list[tuple[Loc, str]]
) -> None:
    """Visit the children of ``node`` that ``trie`` names; substitute at its leaves."""
    if isinstance(node, dict):
        items: Iterable[tuple[Any, Any]] = node.items()
    elif isinstance(node, list) and "*" in trie:
        items = enumerate(node)
    else:
        return
    wildcard = trie.get("*")
    for key, value in list(items):
        sub = trie.get(key, wildcard) if isinstance(key, str) else wildcard
        if sub is None or not (sub or (isinstance(value, str) and "${" in value)):
            continue
        where = (*loc, key if isinstance(key, int | str) else str(key))
        if sub:
            _walk(value, sub, where, env, out)
            continue
        node[key], missing = expand(value, env)
        out.extend((where, _unset(name)) for name in dict.fromkeys(missing))


def _unset(name: str) -> str:
    return (
        f"environment variable {name} is not set (pass --var {name}=VALUE or export it; "
        f"write ${{{name}:-default}} to give a default, $${{{name}}} for a literal ${{{name}}})"
    )

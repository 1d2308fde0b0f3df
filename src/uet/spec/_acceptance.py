"""A bundle's ``acceptance_tests``: which entries are commands to run, which are prose.

The originals put every entry into the agent's prompt and ran none, so real bundles mix
commands (``pytest -q tests/test_io.py``) with sentences (``All tests pass``). uet runs the
commands as the task's acceptance gate and gives the sentences to the agent only. The rule,
applied to each entry in turn (the first that answers decides):

1. Empty, starts with an uppercase letter, or its quotes do not pair up (``it doesn't
   crash``: no shell would run it) → **prose** (``Verify …``, ``All tests pass``, ``Test
   workflow locally``): programs are lowercase, sentences start with a capital.
2. Reads as a sentence: at least three plain words (letters only, no option, path, quote
   or operator) after the first, and one of them a little English word (``to``, ``is``,
   ``all``, ``correctly``…) or, when the first word is not a known runner, the first of them
   a verb in the third person (``…s``) → **prose** (``diff_hash is consistent across
   runs``, ``scripts/submit.py successfully submits task to queue``,
   ``scripts/metrics.py generates metrics dashboard``).
3. The first word is a known runner (``pytest``, ``python``, ``ls``, ``grep``…), a path
   (``scripts/check.sh``, ``./run``), or a program on PATH → **command**.
4. Anything shell-like in it (an option ``-x``, a path, a quote, ``|``, ``&&``, ``>``…) →
   **command**: it is meant to run, and if its program is missing the gate says so.
5. Otherwise → **prose**.

The rule does not depend on the machine for the real corpus: every command there starts
with a known runner or a path.
"""

from __future__ import annotations

import re
import shlex
import shutil
from collections.abc import Iterable

KNOWN_RUNNERS = frozenset(
    """
    bash cargo cat cmake diff docker echo env find git go gradle grep head jq just ls
    make markdownlint mvn mypy node npm npx pip pnpm pre-commit pwsh pylint pyright
    pytest python python3 rg ruff sh shellcheck tail test tox true uv uvx wc yarn
    yamllint zsh
    """.split()  # noqa: SIM905 - a word list reads better as text
)
"""Programs an acceptance command starts with in practice; PATH is looked at beyond them."""

STOP_WORDS = frozenset(
    """
    a all an and are as be been by can correctly does each every for from has have in is
    it its no not of on or properly should successfully that the then there this to
    valid was were when will with without works
    """.split()  # noqa: SIM905 - a word list reads better as text
)
"""Little words that make a run of plain words a sentence rather than arguments."""

_PLAIN = re.compile(r"[A-Za-z][a-z]*,?")
_SHELLISH = re.compile(r"""[-/'"|&;<>=$`*]|^\.""")
_SENTENCE_MIN_WORDS = 3


def is_command(entry: str) -> bool:
    """True when ``entry`` is a command to run, False when it is an instruction in prose."""
    text = entry.strip()
    if not text or text[0].isupper():
        return False
    try:
        words = shlex.split(text)
    except ValueError:  # unbalanced quotes: an apostrophe in a sentence ("doesn't")
        return False
    if not words:
        return False
    first = words[0]
    if _sentence_shaped(words[1:], runner=first in KNOWN_RUNNERS):
        return False
    if first in KNOWN_RUNNERS or "/" in first or shutil.which(first) is not None:
        return True
    return any(_SHELLISH.search(word) for word in words[1:])


def _sentence_shaped(rest: Iterable[str], runner: bool) -> bool:
    plain = [word.rstrip(",").lower() for word in rest if _PLAIN.fullmatch(word)]
    if len(plain) < _SENTENCE_MIN_WORDS:
        return False
    verb = not runner and plain[0].endswith("s")  # "scripts/x.py displays correct status"
    return verb or any(word in STOP_WORDS for word in plain)


def split_acceptance(entries: Iterable[str]) -> tuple[list[str], list[str]]:
    """``(commands, instructions)``, each in the order given."""
    commands: list[str] = []
    instructions: list[str] = []
    for entry in entries:
        (commands if is_command(entry) else instructions).append(entry)
    return commands, instructions

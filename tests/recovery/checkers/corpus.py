"""The seeded corpus: a Python repository with known, injected findings and their manifest.

``build()`` returns the repository as ``{path: text}`` and the manifest of what ``uet scan``
must find: ``(tool, rule, path, line)`` for every injected problem. 40 modules
(``pkg/m00.py`` … ``pkg/m39.py``) and 10 test files get, by their index:

=======================  ==========================  ============================
what                     where                       expected finding
=======================  ==========================  ============================
unused import            1-2 per module              ruff F401
unsorted imports         every third module          ruff I001
``== None``              every module                ruff E711
``"{}".format(x)``       every module                ruff UP032
``"%d" % n``             index % 3 == 1              ruff UP031
``== True``              index % 4 == 1              ruff E712
unused local             even modules                ruff F841
trailing whitespace      index % 7 == 3              ruff W291
wrong return type        odd modules                 mypy return-value
wrong argument type      index % 4 == 0              mypy arg-type
wrong assignment         index % 5 == 2              mypy assignment
undefined name           m05, m17                    ruff F821 + mypy name-defined
``shell=True``           m07                         bandit B602 (HIGH)
``hashlib.md5``          m23                         bandit B324 (HIGH)
failing test             each test file              pytest failed
failing fixture          tests/test_m03.py           pytest error
=======================  ==========================  ============================

Everything else is clean under the corpus's own configuration (its pyproject.toml), so any
finding outside the manifest is a false positive. Run as a script to write it out::

    python -m tests.recovery.checkers.corpus DEST
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

MODULES = 40
TEST_FILES = 10
FIXTURE = Path(__file__).parent / "fixtures" / "seeded_corpus.json"
"""The generated corpus kept as a fixture (tests check the generator still makes it)."""

PYPROJECT = """\
[project]
name = "seeded"
version = "0"

[tool.ruff]
line-length = 100
target-version = "py311"

[tool.ruff.lint]
select = ["E", "F", "I", "UP", "W"]

[tool.mypy]
python_version = "3.11"

[tool.bandit]
skips = ["B101", "B404"]

[tool.pytest.ini_options]
pythonpath = ["."]
"""

_UNUSED_POOL = ("json", "math", "string", "sys", "textwrap")


@dataclass
class _File:
    """A file being written: its lines and the findings expected in it."""

    path: str
    lines: list[str] = field(default_factory=list)
    expected: list[tuple[str, str, str, int]] = field(default_factory=list)

    def add(self, text: str = "", *findings: tuple[str, str]) -> None:
        self.lines.append(text)
        for tool, rule in findings:
            self.expected.append((tool, rule, self.path, len(self.lines)))

    def block(self, *lines: str | tuple[str, tuple[tuple[str, str], ...]]) -> None:
        """A top-level definition, two blank lines before it."""
        self.add()
        self.add()
        for line in lines:
            if isinstance(line, tuple):
                self.add(line[0], *line[1])
            else:
                self.add(line)

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def _module(k: int) -> _File:  # noqa: PLR0912 - one branch per row of the table
    f = _File(f"pkg/m{k:02d}.py")
    f.add(f'"""Module {k} of the seeded corpus."""')
    f.add()
    used = ["os"] + (["subprocess"] if k == 7 else []) + (["hashlib"] if k == 23 else [])
    unused = [_UNUSED_POOL[(k + i) % len(_UNUSED_POOL)] for i in range(1 + k % 2)]
    names = sorted(set(used) | set(unused))
    if k % 3 == 0:
        names.reverse()
    for i, name in enumerate(names):
        findings = [("ruff", "F401")] if name in unused else []
        if i == 0 and k % 3 == 0:
            findings.append(("ruff", "I001"))
        f.add(f"import {name}", *findings)
    f.block(f"def where_{k}() -> str:", "    return os.sep")
    f.block(f"def helper_{k}(value: int) -> int:", f"    return value + {k}")
    f.block(
        f"def is_missing_{k}(value: int | None) -> bool:",
        ("    if value == None:", (("ruff", "E711"),)),
        "        return True",
        "    return False",
    )
    f.block(
        f"def label_{k}(name: str) -> str:",
        ('    return "item {}".format(name)', (("ruff", "UP032"),)),
    )
    if k % 3 == 1:
        f.block(
            f"def percent_{k}(count: int) -> str:",
            ('    return "%d items" % count', (("ruff", "UP031"),)),
        )
    if k % 4 == 1:
        f.block(
            f"def is_on_{k}(flag: bool) -> bool:",
            ("    if flag == True:", (("ruff", "E712"),)),
            "        return True",
            "    return False",
        )
    if k % 2 == 0:
        f.block(
            f"def compute_{k}(value: int) -> int:",
            ("    unused = value * 2", (("ruff", "F841"),)),
            "    return value",
        )
    if k % 7 == 3:
        f.block(
            f"def spaced_{k}(value: int) -> int:",
            ("    total = value + 1 ", (("ruff", "W291"),)),
            "    return total",
        )
    if k % 2 == 1:
        f.block(
            f"def text_{k}(value: int) -> str:",
            ("    return value", (("mypy", "return-value"),)),
        )
    if k % 4 == 0:
        f.block(
            f"def call_{k}() -> int:",
            (f'    return helper_{k}("seven")', (("mypy", "arg-type"),)),
        )
    if k % 5 == 2:
        f.add()
        f.add()
        f.add(f'counter_{k}: int = "zero"', ("mypy", "assignment"))
    if k in (5, 17):
        f.block(
            f"def broken_{k}() -> int:",
            (f"    return undefined_{k}", (("ruff", "F821"), ("mypy", "name-defined"))),
        )
    if k == 7:
        f.block(
            f"def run_{k}(command: str) -> int:",
            ("    return subprocess.call(command, shell=True)", (("bandit", "B602"),)),
        )
    if k == 23:
        f.block(
            f"def digest_{k}(data: bytes) -> str:",
            ("    return hashlib.md5(data).hexdigest()", (("bandit", "B324"),)),
        )
    return f


def _test_file(j: int) -> _File:
    f = _File(f"tests/test_m{j:02d}.py")
    f.add(f'"""Tests of pkg.m{j:02d}."""')
    f.add()
    if j == 3:
        f.add("import pytest")
        f.add()
    f.add(f"from pkg.m{j:02d} import helper_{j}")
    f.block(f"def test_helper_passes_{j}() -> None:", f"    assert helper_{j}(1) == 1 + {j}")
    f.block(
        (f"def test_helper_fails_{j}() -> None:", (("pytest", "failed"),)),
        f"    assert helper_{j}(1) == 0",
    )
    if j == 3:
        f.block(
            "@pytest.fixture",
            "def database() -> int:",
            '    raise RuntimeError("database down")',
        )
        f.block(
            ("def test_uses_database(database: int) -> None:", (("pytest", "error"),)),
            "    assert database == 1",
        )
    return f


def build() -> tuple[dict[str, str], list[tuple[str, str, str, int]]]:
    """The corpus's files and its manifest (sorted)."""
    files = [_module(k) for k in range(MODULES)] + [_test_file(j) for j in range(TEST_FILES)]
    tree = {f.path: f.text() for f in files}
    tree["pkg/__init__.py"] = '"""The seeded corpus\'s package."""\n'
    tree["pyproject.toml"] = PYPROJECT
    tree[".gitignore"] = ".uet/\n__pycache__/\n"
    tree["uet.toml"] = "# the seeded corpus: a uet project of its own (its root for uet scan)\n"
    manifest = sorted(item for f in files for item in f.expected)
    return dict(sorted(tree.items())), manifest


def as_fixture() -> str:
    """The corpus as the fixture file's text (JSON: ``files`` and ``manifest``)."""
    tree, manifest = build()
    data = {"files": tree, "manifest": [list(item) for item in manifest]}
    return json.dumps(data, indent=1, sort_keys=True) + "\n"


def write(dest: Path, tree: dict[str, str]) -> None:
    """Write the corpus's files under ``dest``."""
    for path, text in tree.items():
        target = dest / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    if len(sys.argv) == 2 and sys.argv[1] == "--fixture":
        FIXTURE.parent.mkdir(parents=True, exist_ok=True)
        FIXTURE.write_text(as_fixture(), encoding="utf-8")
    elif len(sys.argv) == 2:
        corpus, expected = build()
        write(Path(sys.argv[1]), corpus)
        (Path(sys.argv[1]) / "manifest.json").write_text(json.dumps(expected, indent=1))
    else:
        sys.exit("usage: python -m tests.recovery.checkers.corpus DEST | --fixture")

"""The patch corpus: a small real Python project and patches made against it, each bad in one
named way (or good), with the state, queue and rule or signal it must end in.

``python -m tests.recovery.patch_corpus OUT`` writes the repository and every patch (``NAME.diff``,
with ``cases.json`` holding the expectations) so that the corpus can be kept as a fixture.

Each case is made as a person or a fixer would make it: the project is cloned, the files are
changed, and ``git diff --binary`` of the result is the patch.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

OPS = '''\
"""Arithmetic."""


def add(a: int, b: int) -> int:
    """The sum of a and b."""
    return a + b


def sub(a: int, b: int) -> int:
    return a - b


def mul(a: int, b: int) -> int:
    return a * b


def safe_div(a: int, b: int) -> float:
    if b == 0:
        raise ZeroDivisionError("b is 0")
    return a / b
'''

TEXT = '''\
"""Text helpers."""


def shout(text: str) -> str:
    return text.upper() + "!"


def initials(name: str) -> str:
    return "".join(part[0] for part in name.split())
'''

TEST_OPS = """\
import pytest

from calc.ops import add, mul, safe_div, sub


def test_add() -> None:
    assert add(1, 2) == 3


def test_sub() -> None:
    assert sub(5, 3) == 2


def test_mul() -> None:
    assert mul(4, 3) == 12


def test_safe_div() -> None:
    assert safe_div(6, 3) == 2.0


def test_div_by_zero() -> None:
    with pytest.raises(ZeroDivisionError):
        safe_div(1, 0)
"""

TEST_TEXT = """\
from calc.text import initials, shout


def test_shout() -> None:
    assert shout("hi") == "HI!"


def test_initials() -> None:
    assert initials("Ada Lovelace") == "AL"
"""

PYPROJECT = """\
[project]
name = "calc"
version = "0.1.0"

[tool.pytest.ini_options]
testpaths = ["tests"]
pythonpath = ["src"]

[tool.ruff]
line-length = 100

[tool.coverage.run]
source = ["src"]
branch = true

[tool.coverage.report]
fail_under = 100
"""

COVERAGE_GATE = '''\
"""Run the tests under coverage; exit 1 below [tool.coverage.report] fail_under."""

import sys

import coverage
import pytest

cov = coverage.Coverage(config_file="pyproject.toml")
cov.start()
code = pytest.main(["-q", "-p", "no:cacheprovider"])
cov.stop()
percent = cov.report(file=open("/dev/null", "w"))  # noqa: SIM115
print(f"coverage {percent:.1f}%")
sys.exit(1 if code or percent < (cov.config.fail_under or 0) else 0)
'''

FILES = {
    "README.md": "# calc\n",
    "pyproject.toml": PYPROJECT,
    "src/calc/__init__.py": '"""A small calculator."""\n',
    "src/calc/ops.py": OPS,
    "src/calc/text.py": TEXT,
    "tests/test_ops.py": TEST_OPS,
    "tests/test_text.py": TEST_TEXT,
    "ci/coverage_gate.py": COVERAGE_GATE,
    ".gitignore": ".uet/\n__pycache__/\n.coverage\n.flaky-count\n",
}

HANG_TIMEOUT_S = 15.0
"""The corpus's tests check's timeout: a hang is stopped here."""


def policy_section(tests_timeout: float = HANG_TIMEOUT_S) -> dict[str, object]:
    """The corpus project's ``patch_policy`` (as its uet.toml would hold it)."""
    return {
        "max_lines_changed": 60,
        "max_files_changed": 5,
        "forbid_paths": ["ci/**"],
        "checks": [
            {
                "name": "tests",
                "kind": "tests",
                "command": ["{python}", "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider"],
                "timeout": tests_timeout,
                "repeat": 2,
            },
            {
                "name": "ruff",
                "kind": "lint",
                "command": ["{python}", "-m", "ruff", "check", "--no-cache", "-q", "{files}"],
                "timeout": 60,
                "files": "**.py",
            },
            {
                "name": "mypy",
                "kind": "types",
                "command": [
                    "{python}",
                    "-m",
                    "mypy",
                    "--no-error-summary",
                    "--follow-imports=silent",
                    "--ignore-missing-imports",
                    "{files}",
                ],
                "timeout": 120,
                "files": "**.py",
            },
            {
                "name": "bandit",
                "kind": "security",
                "command": ["{python}", "-m", "bandit", "-q", "-lll", "{files}"],
                "timeout": 60,
                "files": "**.py",
            },
            {
                "name": "coverage",
                "kind": "coverage",
                "command": ["{python}", "ci/coverage_gate.py"],
                "timeout": tests_timeout,
            },
        ],
    }


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True)
    return done.stdout


def make_repo(path: Path) -> Path:
    """The corpus project on ``main``, one commit."""
    path.mkdir(parents=True, exist_ok=True)
    for name, text in FILES.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text, encoding="utf-8")
    git(path, "init", "--quiet", "--initial-branch=main")
    git(path, "add", "-A")
    git(path, "commit", "--quiet", "-m", "calc")
    return path


Mutate = Callable[[Path], None]


@dataclass(frozen=True)
class Case:
    """One patch of the corpus and where it must end."""

    name: str
    category: str
    mutate: Mutate
    state: str  # quarantined | queued | apply_failed | committed
    queue: str | None = None  # manual | review | auto_merge
    rule: str | None = None  # a tamper rule it must break (quarantined)
    signal: tuple[str, str] | None = None  # (kind, status) of a signal it must get
    files: tuple[str, ...] = ()  # the finding's files (outside them: a tamper)
    moves_main: Mutate | None = None  # a commit made on main before validation


def diff_of(repo: Path, mutate: Mutate) -> str:
    """The patch ``mutate`` makes to a fresh clone of ``repo``."""
    scratch = Path(tempfile.mkdtemp(prefix="uet-corpus-"))
    try:
        work = scratch / "w"
        subprocess.run(
            ["git", "clone", "--quiet", str(repo), str(work)], check=True, capture_output=True
        )
        mutate(work)
        git(work, "add", "-A")
        return git(work, "diff", "--cached", "--binary", "HEAD")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


# -- mutations -------------------------------------------------------------------------------


def edit(path: str, old: str, new: str, count: int = 1) -> Mutate:
    def mutate(root: Path) -> None:
        file = root / path
        text = file.read_text(encoding="utf-8")
        if old not in text:
            raise AssertionError(f"{path}: {old!r} not found")
        file.write_text(text.replace(old, new, count), encoding="utf-8")

    return mutate


def write(path: str, text: str | bytes) -> Mutate:
    def mutate(root: Path) -> None:
        file = root / path
        file.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            file.write_bytes(text)
        else:
            file.write_text(text, encoding="utf-8")

    return mutate


def append(path: str, text: str) -> Mutate:
    def mutate(root: Path) -> None:
        file = root / path
        file.write_text(file.read_text(encoding="utf-8") + text, encoding="utf-8")

    return mutate


def delete(path: str) -> Mutate:
    return lambda root: (root / path).unlink()


def both(*steps: Mutate) -> Mutate:
    def mutate(root: Path) -> None:
        for step in steps:
            step(root)

    return mutate


def symlink(path: str, target: str) -> Mutate:
    return lambda root: os.symlink(target, root / path)


def chmod_x(path: str) -> Mutate:
    return lambda root: (root / path).chmod(0o755)


FLAKY = '''
def _flip() -> bool:
    """True every other call, across processes (a counter file in the working folder)."""
    from pathlib import Path

    counter = Path(".flaky-count")
    count = int(counter.read_text() or "0") + 1 if counter.exists() else 1
    counter.write_text(str(count))
    return count % 2 == 0
'''

HANG = """
def _wait() -> None:
    import time

    while True:
        time.sleep(0.05)
"""

OPS_PY = "src/calc/ops.py"
TEXT_PY = "src/calc/text.py"
T_OPS = "tests/test_ops.py"
T_TEXT = "tests/test_text.py"
SRC = (OPS_PY,)


def _q(rule: str, category: str, name: str, mutate: Mutate, files: tuple[str, ...] = ()) -> Case:
    return Case(name, category, mutate, "quarantined", "manual", rule=rule, files=files)


def _s(kind: str, status: str, queue: str, category: str, name: str, mutate: Mutate) -> Case:
    return Case(name, category, mutate, "queued", queue, signal=(kind, status), files=())


def bad_cases() -> list[Case]:  # noqa: PLR0912 - one block per kind of bad patch
    """At least 50 deliberately bad patches, every kind the issue names."""
    cases: list[Case] = []
    syntax = [
        edit(OPS_PY, "return a + b", "return a +"),
        edit(OPS_PY, "def sub(a: int, b: int) -> int:", "def sub(a: int, b: int) -> int"),
        edit(TEXT_PY, 'return text.upper() + "!"', 'return text.upper( + "!"'),
        edit(OPS_PY, "    return a * b", "  return a * b\n    x = ("),
        edit(TEXT_PY, "def initials", "def 1initials"),
    ]
    for i, mutate in enumerate(syntax, 1):
        cases.append(_s("tests", "failed", "manual", "syntax", f"syntax-{i}", mutate))
    failing = [
        edit(OPS_PY, "return a + b", "return a - b"),
        edit(OPS_PY, "return a - b", "return b - a"),
        edit(OPS_PY, "return a * b", "return a * b + 1"),
        edit(OPS_PY, "    return a / b", "    return a // b + 0.5"),
        edit(TEXT_PY, '+ "!"', '+ "?"'),
        edit(TEXT_PY, "part[0]", "part[-1]"),
    ]
    for i, mutate in enumerate(failing, 1):
        cases.append(_s("tests", "failed", "manual", "failing_test", f"failing-test-{i}", mutate))
    deleted = [
        edit(T_OPS, "def test_sub() -> None:\n    assert sub(5, 3) == 2\n\n\n", ""),
        edit(
            T_OPS,
            "\n\ndef test_div_by_zero() -> None:\n"
            "    with pytest.raises(ZeroDivisionError):\n        safe_div(1, 0)\n",
            "\n",
        ),
        edit(T_TEXT, 'def test_shout() -> None:\n    assert shout("hi") == "HI!"\n\n\n', ""),
        delete(T_TEXT),
        delete(T_OPS),
        both(
            delete(T_TEXT), write("tests/test_other.py", "def test_nothing() -> None:\n    pass\n")
        ),
    ]
    for i, mutate in enumerate(deleted, 1):
        cases.append(_q("deletes_test", "deleted_test", f"deleted-test-{i}", mutate))
    skipped = [
        edit(T_OPS, "def test_add()", "@pytest.mark.skip(reason='later')\ndef test_add()"),
        edit(T_OPS, "def test_mul()", "@pytest.mark.skipif(True, reason='x')\ndef test_mul()"),
        edit(
            T_TEXT,
            '    assert shout("hi")',
            '    import pytest\n\n    pytest.skip("flaky")\n    assert shout("hi")',
        ),
        both(
            edit(T_TEXT, "from calc.text", "import unittest\n\nfrom calc.text"),
            edit(T_TEXT, "def test_initials()", "@unittest.skip('x')\ndef test_initials()"),
        ),
    ]
    for i, mutate in enumerate(skipped, 1):
        cases.append(_q("skips_test", "skipped_test", f"skipped-test-{i}", mutate))
    xfails = [
        edit(T_OPS, "def test_sub()", "@pytest.mark.xfail\ndef test_sub()"),
        edit(T_OPS, "def test_safe_div()", "@pytest.mark.xfail(strict=False)\ndef test_safe_div()"),
        edit(
            T_TEXT,
            '    assert initials("Ada',
            '    import pytest\n\n    pytest.xfail("todo")\n    assert initials("Ada',
        ),
    ]
    for i, mutate in enumerate(xfails, 1):
        cases.append(_q("xfails_test", "skipped_test", f"xfail-test-{i}", mutate))
    weakened = [
        edit(T_OPS, "assert add(1, 2) == 3", "assert add(1, 2)"),
        edit(T_OPS, "assert sub(5, 3) == 2", "assert True"),
        edit(T_OPS, "assert mul(4, 3) == 12", "assert mul(4, 3) == 12 or True"),
        edit(
            T_OPS,
            "    with pytest.raises(ZeroDivisionError):\n        safe_div(1, 0)",
            "    safe_div(1, 1)",
        ),
        edit(T_TEXT, '    assert initials("Ada Lovelace") == "AL"', '    initials("Ada Lovelace")'),
    ]
    for i, mutate in enumerate(weakened, 1):
        cases.append(_q("weakens_assertion", "weakened_assert", f"weakened-assert-{i}", mutate))
    config = [
        edit(
            "pyproject.toml",
            'testpaths = ["tests"]',
            'testpaths = ["tests"]\naddopts = "--ignore=tests/test_ops.py"',
        ),
        edit("pyproject.toml", 'testpaths = ["tests"]', 'testpaths = ["docs"]'),
        write("tests/conftest.py", 'collect_ignore = ["test_text.py"]\n'),
        write("pytest.ini", "[pytest]\naddopts = -k 'not add'\n"),
        write("setup.cfg", "[tool:pytest]\naddopts = --deselect tests/test_ops.py::test_add\n"),
    ]
    for i, mutate in enumerate(config, 1):
        cases.append(_q("edits_test_config", "test_config", f"test-config-{i}", mutate))
    threshold = [
        edit("pyproject.toml", "fail_under = 100", "fail_under = 10"),
        write(".coveragerc", "[report]\nfail_under = 0\n"),
        edit(
            "pyproject.toml",
            'testpaths = ["tests"]',
            'testpaths = ["tests"]\naddopts = "--cov-fail-under=0"',
        ),
    ]
    for i, mutate in enumerate(threshold, 1):
        cases.append(_q("edits_coverage_threshold", "coverage_threshold", f"threshold-{i}", mutate))
    uncovered = [
        append(OPS_PY, "\n\ndef neg(a: int) -> int:\n    return -a\n"),
        edit(OPS_PY, "    return a * b", "    if a == 1000:\n        return 0\n    return a * b"),
        append(TEXT_PY, '\n\ndef whisper(text: str) -> str:\n    return text.lower() + "..."\n'),
    ]
    for i, mutate in enumerate(uncovered, 1):
        cases.append(
            _s("coverage", "failed", "review", "coverage_drop", f"coverage-drop-{i}", mutate)
        )
    insecure = [
        both(
            edit(OPS_PY, '"""Arithmetic."""\n', '"""Arithmetic."""\n\nimport subprocess\n'),
            edit(
                OPS_PY,
                "    return a * b",
                "    subprocess.call(str(a), shell=True)\n    return a * b",
            ),
        ),
        both(
            edit(TEXT_PY, '"""Text helpers."""\n', '"""Text helpers."""\n\nimport hashlib\n'),
            edit(
                TEXT_PY,
                '    return text.upper() + "!"',
                '    hashlib.md5(text.encode()).hexdigest()\n    return text.upper() + "!"',
            ),
        ),
        both(
            edit(OPS_PY, '"""Arithmetic."""\n', '"""Arithmetic."""\n\nimport subprocess\n'),
            edit(
                OPS_PY,
                "    return a - b",
                '    subprocess.run(f"echo {b}", shell=True, check=False)\n    return a - b',
            ),
        ),
    ]
    for i, mutate in enumerate(insecure, 1):
        cases.append(_s("security", "failed", "review", "bandit_high", f"bandit-high-{i}", mutate))
    outside = [
        edit(TEXT_PY, '+ "!"', '+ "!!"'),
        append("README.md", "More words.\n"),
        both(
            edit(OPS_PY, '"""The sum of a and b."""', '"""Return the sum of a and b."""'),
            write("src/calc/extra.py", "X = 1\n"),
        ),
        write("docs/notes.md", "notes\n"),
    ]
    for i, mutate in enumerate(outside, 1):
        cases.append(_q("outside_finding_files", "out_of_scope", f"out-of-scope-{i}", mutate, SRC))
    protected = [
        write(".github/workflows/ci.yml", "on: push\n"),
        write("uet.toml", "[patch_policy]\nauto_merge = 0.1\n"),
        write(".gitattributes", "*.py filter=evil\n"),
        append("ci/coverage_gate.py", "sys.exit(0)\n"),
        edit(
            "pyproject.toml",
            "[project]\n",
            "[tool.uet.patch_policy]\nauto_merge = 0.1\n\n[project]\n",
        ),
    ]
    for i, mutate in enumerate(protected, 1):
        cases.append(_q("protected_path", "protected_path", f"protected-path-{i}", mutate))
    hangs = [
        both(
            append(OPS_PY, HANG), edit(OPS_PY, "    return a + b", "    _wait()\n    return a + b")
        ),
        both(
            append(TEXT_PY, HANG),
            edit(
                TEXT_PY,
                '    return text.upper() + "!"',
                '    _wait()\n    return text.upper() + "!"',
            ),
        ),
    ]
    for i, mutate in enumerate(hangs, 1):
        cases.append(_s("tests", "timed_out", "manual", "hang", f"hang-{i}", mutate))
    flaky = [
        both(
            append(OPS_PY, FLAKY),
            edit(OPS_PY, "    return a + b", "    return a + b + int(_flip())"),
        ),
        both(
            append(TEXT_PY, FLAKY),
            edit(
                TEXT_PY,
                '    return text.upper() + "!"',
                '    return text.upper() + ("?" if _flip() else "!")',
            ),
        ),
        both(
            append(OPS_PY, FLAKY),
            edit(OPS_PY, "    return a * b", "    return a * b * (2 if _flip() else 1)"),
        ),
    ]
    for i, mutate in enumerate(flaky, 1):
        cases.append(_s("tests", "flaky", "manual", "flaky", f"flaky-{i}", mutate))
    big = "".join(f"\n\ndef f{i}(a: int) -> int:\n    return a + {i}\n" for i in range(20))
    cases += [
        _q("too_many_lines", "size", "too-many-lines-1", append(OPS_PY, big)),
        _q(
            "too_many_lines",
            "size",
            "too-many-lines-2",
            write("src/calc/table.py", "".join(f"V{i} = {i}\n" for i in range(80))),
        ),
        _q(
            "too_many_files",
            "size",
            "too-many-files-1",
            both(*(write(f"src/calc/m{i}.py", "X = 1\n") for i in range(6))),
        ),
        _q(
            "too_many_files",
            "size",
            "too-many-files-2",
            both(*(write(f"docs/p{i}.md", "p\n") for i in range(7))),
        ),
        _q("binary", "binary", "binary-1", write("src/calc/data.bin", b"\x00\x01\x02binary")),
        _q(
            "binary", "binary", "binary-2", write("docs/logo.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00")
        ),
        _q("content:symlink", "content", "symlink-out", symlink("src/calc/passwd", "/etc/passwd")),
        _q("content:executable", "content", "executable", chmod_x(OPS_PY)),
        _q(
            "content:case_collision",
            "content",
            "case-collision",
            write("src/calc/OPS.py", "X = 1\n"),
        ),
        _q(
            "modifies_tests",
            "modified_test",
            "modified-test-1",
            edit(T_OPS, "assert add(1, 2) == 3", "assert add(1, 2) == 4"),
        ),
        _q(
            "modifies_tests",
            "modified_test",
            "modified-test-2",
            edit(T_TEXT, '== "HI!"', '== "HI?"'),
        ),
    ]
    conflict_main = edit(OPS_PY, "return a + b", "return b + a")
    cases += [
        Case(
            "conflict-1",
            "conflict",
            edit(OPS_PY, "return a + b", "return (a + b)"),
            "apply_failed",
            moves_main=conflict_main,
        ),
        Case(
            "conflict-2",
            "conflict",
            edit(OPS_PY, '"""The sum of a and b."""', '"""a + b."""'),
            "apply_failed",
            moves_main=edit(OPS_PY, '"""The sum of a and b."""', '"""Sum."""'),
        ),
    ]
    return cases


def _good(name: str, mutate: Mutate, files: tuple[str, ...]) -> Case:
    return Case(name, "good", mutate, "committed", "auto_merge", files=files)


def good_cases() -> list[Case]:
    """Patches that pass every check and the tamper rules: they auto-merge."""
    new_function = "\n\ndef double(a: int) -> int:\n    return 2 * a\n"
    new_test = (
        "\n\ndef test_double() -> None:\n    from calc.ops import double\n\n"
        "    assert double(4) == 8\n"
    )
    return [
        _good(
            "good-docstring",
            edit(
                OPS_PY,
                "def sub(a: int, b: int) -> int:\n",
                'def sub(a: int, b: int) -> int:\n    """a minus b."""\n',
            ),
            SRC,
        ),
        _good(
            "good-text-docstring",
            edit(
                TEXT_PY,
                "def shout(text: str) -> str:\n",
                'def shout(text: str) -> str:\n    """Loud."""\n',
            ),
            (TEXT_PY,),
        ),
        _good(
            "good-new-function-with-test",
            both(append(OPS_PY, new_function), append(T_OPS, new_test)),
            (OPS_PY, T_OPS),
        ),
        _good(
            "good-readme",
            append("README.md", "\nAdd, subtract, multiply, divide.\n"),
            ("README.md",),
        ),
    ]


def write_corpus(out: Path) -> None:
    """Every case's patch and the expectations, for keeping the corpus as a fixture (the
    project itself is :data:`FILES`, made by :func:`make_repo`)."""
    out.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="uet-corpus-"))
    try:
        repo = make_repo(scratch / "repo")
        listed = []
        for case in [*bad_cases(), *good_cases()]:
            (out / f"{case.name}.diff").write_text(diff_of(repo, case.mutate), encoding="utf-8")
            skip = ("mutate", "moves_main")
            listed.append({k: v for k, v in case.__dict__.items() if k not in skip})
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    (out / "cases.json").write_text(json.dumps(listed, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":  # pragma: no cover - the fixture writer
    write_corpus(Path(sys.argv[1]))

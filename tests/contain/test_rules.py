"""The content rules as pure functions: path names, collisions, symlink resolution, modes."""

from __future__ import annotations

import posixpath
import subprocess
import sys
import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from tests.layers import CORE_MODULES
from uet.contain.rules import (
    MODE_EXECUTABLE,
    MODE_FILE,
    MODE_GITLINK,
    MODE_SYMLINK,
    Allowances,
    Entry,
    Rule,
    check,
    collisions,
    path_problem,
    resolve_link,
)
from uet.scope import FileScope

SEGMENT = st.text(alphabet="abcXYZ09._-é", min_size=1, max_size=6)
PATHS = st.lists(SEGMENT, min_size=1, max_size=4).map("/".join)


def _rules(entries: list[Entry], **allow: object) -> dict[str, Rule]:
    policy = Allowances(**allow).policy(["docs/**"], [".github/**"])  # type: ignore[arg-type]
    return {v.path: v.rule for v in check(entries, policy)}


@given(PATHS)
def test_a_path_is_refused_by_name_exactly_when_a_component_is_dot_dotdot_or_starts_with_a_dash(
    path: str,
) -> None:
    parts = path.split("/")
    bad = any(p in (".", "..") or p.startswith("-") for p in parts)
    assert (path_problem(path) is not None) == bad


@given(PATHS, st.sampled_from(["\n", "\r", "\x1b", "\x7f", "\t", "\x00"]))
def test_a_control_character_anywhere_in_a_path_is_refused(path: str, char: str) -> None:
    middle = len(path) // 2
    problem = path_problem(path[:middle] + char + path[middle:])
    assert problem is not None
    assert problem[0] is Rule.CONTROL_CHARACTER


@given(PATHS)
def test_a_path_never_collides_with_itself_but_always_with_its_case_swapped_twin(
    path: str,
) -> None:
    assert collisions([path], [path]) == []
    twin = path.swapcase()
    if twin != path and unicodedata.normalize("NFC", twin) != path:
        [found] = collisions([twin], [path, twin])
        assert found.rule is Rule.CASE_COLLISION


def test_nfd_and_nfc_spellings_of_one_name_collide_as_unicode() -> None:
    nfc, nfd = "docs/caf\u00e9.md", "docs/cafe\u0301.md"
    [found] = collisions([nfd], [nfc, nfd])
    assert found.rule is Rule.UNICODE_COLLISION


def test_a_folder_differing_by_case_collides_too() -> None:
    [found] = collisions(["Docs/new.md"], ["docs/old.md", "Docs/new.md"])
    assert found.rule is Rule.CASE_COLLISION


@given(st.lists(SEGMENT.filter(lambda s: s not in (".", "..")), min_size=1, max_size=4), PATHS)
def test_a_resolved_link_never_leaves_the_repository(parts: list[str], target: str) -> None:
    path = "/".join(parts)
    resolved = resolve_link(path, target, {})
    if resolved is not None:
        assert not resolved.startswith("/")
        assert ".." not in resolved.split("/")
        expected = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
        assert resolved == ("" if expected == "." else expected)


def test_link_resolution_follows_chains_and_detects_loops() -> None:
    links = {"docs/a": "b", "docs/b": "../src"}
    assert resolve_link("docs/x", "a/main.py", links) == "src/main.py"
    assert resolve_link("docs/x", "c", {"docs/c": "d", "docs/d": "c"}) is None
    assert resolve_link("docs/x", "up/etc", {"docs/up": "../.."}) is None
    assert resolve_link("docs/x", "/etc/passwd", {}) is None


def test_symlinks_are_refused_by_default_and_allowed_only_inside_scope() -> None:
    link = Entry("docs/l", MODE_SYMLINK, target="other.md")
    assert _rules([link]) == {"docs/l": Rule.SYMLINK}
    assert _rules([link], allow_symlinks=True) == {}
    out = Entry("docs/l", MODE_SYMLINK, target="../src/app.py")
    assert _rules([out], allow_symlinks=True) == {"docs/l": Rule.SYMLINK_TARGET}


def test_gitlinks_binaries_large_and_executable_files() -> None:
    entries = [
        Entry("docs/sub", MODE_GITLINK),
        Entry("docs/x.bin", MODE_FILE, size=10, binary=True),
        Entry("docs/big.md", MODE_FILE, size=6 * 1024 * 1024),
        Entry("docs/run.sh", MODE_EXECUTABLE, old_mode=MODE_FILE),
        Entry("docs/was.sh", MODE_EXECUTABLE, old_mode=MODE_EXECUTABLE),
        Entry("docs/old.bin", MODE_FILE, old_mode=MODE_FILE, binary=True),
    ]
    assert _rules(entries) == {
        "docs/sub": Rule.GITLINK,
        "docs/x.bin": Rule.BINARY,
        "docs/big.md": Rule.TOO_LARGE,
        "docs/run.sh": Rule.EXECUTABLE,
    }
    allowed = _rules(
        entries, allow_binary=True, executables=("docs/*.sh",), max_file_bytes=7 * 1024 * 1024
    )
    assert allowed == {"docs/sub": Rule.GITLINK}


def test_a_deleted_path_breaks_no_rule_but_its_name() -> None:
    assert _rules([Entry("docs/gone.bin", None, MODE_FILE)]) == {}
    assert _rules([Entry("docs/-x", None, MODE_FILE)]) == {"docs/-x": Rule.LEADING_DASH}


def test_allowances_round_trip_through_json() -> None:
    allow = Allowances(True, True, ("bin/*",), 10)
    assert Allowances.from_json(allow.to_json()) == allow
    assert Allowances.from_json(None) == Allowances()
    assert FileScope(allow.executables).allows("bin/x")


def test_the_containment_modules_import_only_the_core() -> None:
    """DESIGN.md's layering: uet.contain is core (isolation and the engine build on it)."""
    code = (
        "import sys, uet.contain.rules, uet.contain.paths, uet.contain.env, uet.contain.sandbox\n"
        "print(sorted(m for m in sys.modules if m.startswith('uet.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert set(eval(out.stdout)) <= CORE_MODULES  # noqa: S307 - our own subprocess's list

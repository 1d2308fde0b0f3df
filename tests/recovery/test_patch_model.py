"""Patches parsed with unidiff, the tamper rules on their own, patch_policy, the score."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from tests.recovery.patch_corpus import Case, Mutate, bad_cases, diff_of, good_cases, make_repo
from uet import defaults
from uet.config import load_settings
from uet.errors import ConfigError, UsageError
from uet.recovery.confidence import Queue, Signal, SignalStatus, route, score
from uet.recovery.patches import MAX_DIFF_BYTES, Patch
from uet.recovery.policy import DEFAULT_CHECKS, PatchPolicy, load_policy, parse_policy
from uet.recovery.tamper import static_reasons

DIFF = """\
diff --git a/src/a.py b/src/a.py
index 1111111..2222222 100644
--- a/src/a.py
+++ b/src/a.py
@@ -1,2 +1,3 @@
 x = 1
-y = 2
+y = 3
+z = 4
diff --git a/src/gone.py b/src/gone.py
deleted file mode 100644
index 3333333..0000000
--- a/src/gone.py
+++ /dev/null
@@ -1 +0,0 @@
-old = 1
diff --git a/docs/new.md b/docs/new.md
new file mode 100644
index 0000000..4444444
--- /dev/null
+++ b/docs/new.md
@@ -0,0 +1 @@
+hello
"""


def test_a_patch_knows_its_files_lines_and_hunks() -> None:
    """unidiff's view of the diff: each file, lines added and removed, new and deleted."""
    patch = Patch.parse(DIFF, base_commit="abc")
    assert patch.scope.files == ("docs/new.md", "src/a.py", "src/gone.py")
    assert (patch.scope.insertions, patch.scope.deletions, patch.scope.hunks) == (3, 2, 3)
    by_path = {c.path: c for c in patch.changes}
    assert by_path["src/a.py"].added == ((2, "y = 3"), (3, "z = 4"))
    assert by_path["src/a.py"].removed == ((2, "y = 2"),)
    assert by_path["src/gone.py"].is_deleted
    assert by_path["docs/new.md"].is_new


def test_the_id_names_the_diff_on_its_base() -> None:
    """The same diff on the same base is the same patch; on another base another one."""
    one = Patch.parse(DIFF, base_commit="abc")
    assert one.id == Patch.parse(DIFF, base_commit="abc").id
    assert one.id != Patch.parse(DIFF, base_commit="abd").id
    assert one.id.startswith("p")
    assert len(one.id) == 12


@pytest.mark.parametrize(
    ("text", "problem"),
    [("", "empty"), ("   \n", "empty"), ("hello\nworld\n", "no file changes")],
)
def test_what_is_no_patch_is_a_usage_error(text: str, problem: str) -> None:
    with pytest.raises(UsageError, match=problem):
        Patch.parse(text, base_commit="abc")


def test_a_huge_diff_is_refused() -> None:
    with pytest.raises(UsageError, match="bytes"):
        Patch.parse("x" * (MAX_DIFF_BYTES + 1), base_commit="abc")


def test_a_binary_patch_is_seen_as_binary(repo: Path) -> None:
    """git's binary patches (GIT binary patch) are binary files of the scope."""
    case = next(c for c in bad_cases() if c.name == "binary-1")
    patch = Patch.parse(diff_of(repo, case.mutate), base_commit="abc")
    assert patch.scope.binary == ("src/calc/data.bin",)


# -- tamper rules on their own -------------------------------------------------------------


Texts = Callable[[str], tuple[str | None, str | None]]


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The corpus project, made once for this module (nothing here changes it)."""
    return make_repo(tmp_path_factory.mktemp("corpus") / "repo")


def _texts(repo: Path, mutate: Mutate, scratch: Path) -> Texts:
    """A path's text before and after ``mutate`` (made on a copy of the repository)."""
    after = scratch / "after"
    shutil.copytree(repo, after, symlinks=True)
    mutate(after)

    def read(file: Path) -> str | None:
        return file.read_text(encoding="utf-8") if file.is_file() else None

    return lambda path: (read(repo / path), read(after / path))


STATIC = [c for c in bad_cases() if c.rule and not c.rule.startswith("content:")]


@pytest.mark.parametrize("case", STATIC, ids=[c.name for c in STATIC])
def test_each_static_rule_is_found_in_the_diff(case: Case, repo: Path, tmp_path: Path) -> None:
    """Each corpus patch with a tamper rule breaks that rule by its diff alone."""
    policy = replace(
        PatchPolicy(max_lines_changed=60, max_files_changed=5, forbid_paths=("ci/**",)),
        protected_paths=defaults.PROTECTED_PATHS,
    )
    patch = Patch.parse(diff_of(repo, case.mutate), base_commit="abc")
    found = static_reasons(
        patch, policy, texts=_texts(repo, case.mutate, tmp_path), finding_files=case.files
    )
    assert case.rule in [t.rule for t in found]


@pytest.mark.parametrize("case", good_cases(), ids=[c.name for c in good_cases()])
def test_good_patches_break_no_rule(case: Case, repo: Path, tmp_path: Path) -> None:
    policy = replace(PatchPolicy(), protected_paths=defaults.PROTECTED_PATHS)
    patch = Patch.parse(diff_of(repo, case.mutate), base_commit="abc")
    assert (
        static_reasons(
            patch, policy, texts=_texts(repo, case.mutate, tmp_path), finding_files=case.files
        )
        == []
    )


def test_allow_test_edits_lets_a_changed_expectation_through(repo: Path, tmp_path: Path) -> None:
    """modifies_tests is the policy's: with allow_test_edits it is not a reason."""
    case = next(c for c in bad_cases() if c.name == "modified-test-1")
    patch = Patch.parse(diff_of(repo, case.mutate), base_commit="abc")
    texts = _texts(repo, case.mutate, tmp_path)
    strict = static_reasons(patch, PatchPolicy(), texts=texts)
    lenient = static_reasons(patch, PatchPolicy(allow_test_edits=True), texts=texts)
    assert [t.rule for t in strict] == ["modifies_tests"]
    assert lenient == []


# -- patch_policy ----------------------------------------------------------------------------


def test_defaults_are_the_originals() -> None:
    policy = parse_policy({})
    assert (policy.auto_merge, policy.review) == (0.95, 0.80)
    assert dict(policy.weights) == {
        "tests": 0.4,
        "lint": 0.2,
        "types": 0.15,
        "security": 0.15,
        "coverage": 0.1,
    }
    assert policy.checks == DEFAULT_CHECKS


def test_the_section_is_read_from_uet_toml(tmp_path: Path) -> None:
    (tmp_path / "uet.toml").write_text(
        "[patch_policy]\nauto_merge = 0.99\nmax_files_changed = 3\n"
        '[[patch_policy.checks]]\nname = "t"\nkind = "tests"\ncommand = "make test"\n',
        encoding="utf-8",
    )
    policy = load_policy(load_settings(cwd=tmp_path, env={}))
    assert (policy.auto_merge, policy.max_files_changed) == (0.99, 3)
    assert [c.command for c in policy.checks] == [("make", "test")]
    assert "uet.toml" in policy.protected_paths


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"auto_merge": 2}, "patch_policy.auto_merge"),
        ({"auto_merge": "high"}, "patch_policy.auto_merge"),
        ({"max_lines_changed": 0}, "patch_policy.max_lines_changed"),
        ({"color": "red"}, "patch_policy.color"),
        ({"weights": {"vibes": 1}}, "patch_policy.weights.vibes"),
        ({"checks": [{"name": "x", "kind": "tests"}]}, "patch_policy.checks[0].command"),
        ({"checks": [{"name": "x", "kind": "magic", "command": ["x"]}]}, "checks[0].kind"),
        ({"overrides": [{"auto_merge": 1}]}, "patch_policy.overrides[0]"),
        ({"review": 0.99, "auto_merge": 0.9}, "patch_policy.review"),
        ({"forbid_paths": ["../x"]}, "patch_policy.forbid_paths"),
    ],
)
def test_a_bad_value_names_its_key(raw: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_policy(raw, "uet.toml")
    assert key in str(caught.value)
    assert "uet.toml" in str(caught.value)


def test_overrides_apply_the_strictest_value() -> None:
    policy = parse_policy(
        {
            "overrides": [
                {"paths": ["src/pay/**"], "auto_merge": 1.01, "max_lines_changed": 20},
                {"categories": ["security"], "auto_merge": 0.97, "max_lines_changed": 50},
            ]
        }
    )
    both = policy.for_patch(["src/pay/a.py"], "security")
    assert (both.auto_merge, both.max_lines_changed) == (1.01, 20)
    other = policy.for_patch(["src/app/a.py"], "lint")
    assert (other.auto_merge, other.max_lines_changed) == (0.95, 200)


# -- the score and the queue -----------------------------------------------------------------


def _signal(kind: str, status: SignalStatus) -> Signal:
    return Signal(kind, kind, status)


P = SignalStatus.PASSED
F = SignalStatus.FAILED


def test_weights_are_normalised_over_the_kinds_measured() -> None:
    """Without a coverage check, a clean patch still scores 1; a lint failure costs 0.2/0.9."""
    clean = [_signal(k, P) for k in ("tests", "lint", "types", "security")]
    assert score(clean, PatchPolicy().weights)[0] == pytest.approx(1.0)
    lint = [_signal("tests", P), _signal("lint", F), _signal("types", P), _signal("security", P)]
    assert score(lint, PatchPolicy().weights)[0] == pytest.approx(0.7 / 0.9)


@pytest.mark.parametrize(
    ("failing", "queue"),
    [
        ((), Queue.AUTO_MERGE),
        (("coverage",), Queue.REVIEW),  # 0.9
        (("security",), Queue.REVIEW),  # 0.85
        (("types",), Queue.REVIEW),  # 0.85
        (("lint",), Queue.REVIEW),  # 0.8
        (("tests",), Queue.MANUAL),  # 0.6
        (("lint", "types"), Queue.MANUAL),  # 0.65
    ],
)
def test_thresholds_pick_the_queue(failing: tuple[str, ...], queue: Queue) -> None:
    signals = [_signal(k, F if k in failing else P) for k in PatchPolicy().weights]
    assert route(signals, PatchPolicy(), ["src/a.py"]).queue is queue


def test_require_tests_for_paths_sends_an_untested_patch_to_manual() -> None:
    policy = PatchPolicy(require_tests_for_paths=("src/**",))
    lint_only = [_signal("lint", P)]
    assert route(lint_only, policy, ["src/a.py"]).queue is Queue.MANUAL
    assert route(lint_only, policy, ["docs/a.md"]).queue is Queue.AUTO_MERGE


def test_not_applicable_counts_as_passed_and_missing_as_failed() -> None:
    assert SignalStatus.NOT_APPLICABLE.value_of == 1.0
    assert SignalStatus.MISSING.value_of == SignalStatus.FLAKY.value_of == 0.0


def test_the_patch_modules_stay_below_the_cli_and_the_agents() -> None:
    """DESIGN.md: recovery may import engine, isolation and state, never the CLI or
    uet.agents; the pure parts (patches, tamper, policy, confidence) load no git code."""
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    def loaded(modules: str) -> set[str]:
        code = (
            f"import sys, {modules}\nprint(sorted(m for m in sys.modules if m.startswith('uet.')))"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        return set(eval(out.stdout))  # noqa: S307 - our own subprocess's repr of a list

    everything = loaded("uet.recovery.validate, uet.recovery.landing, uet.recovery.ledger")
    assert not {m for m in everything if m.startswith(("uet.cli", "uet.agents"))}
    pure = loaded(
        "uet.recovery.patches, uet.recovery.tamper, uet.recovery.policy, uet.recovery.confidence"
    )
    assert not {m for m in pure if m.startswith(("uet.isolation", "uet.state", "uet.engine"))}

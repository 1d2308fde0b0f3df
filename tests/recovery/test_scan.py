"""``uet scan`` through its command line: a recorded run of checker tasks, the cache,
missing and failing tools, the command checker, --diff, --fail-on, baselines, SARIF."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.recovery.checkers.scanning import git, make_project, run_uet, validate_sarif

CLEAN = "def ok() -> int:\n    return 1\n"
UNUSED = "import os\n\n\ndef ok() -> int:\n    return 1\n"  # ruff F401 (warning)
WRONG_TYPE = "def bad() -> str:\n    return 1\n"  # mypy return-value (error)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = make_project(tmp_path / "p", {"a.py": UNUSED, "b.py": CLEAN})
    monkeypatch.chdir(root)
    return root


def _by_name(result: dict) -> dict:  # type: ignore[type-arg]
    return {c["name"]: c for c in result["checkers"]}


def test_a_scan_is_a_recorded_run_of_one_task_per_checker(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each checker is a task scan/<name> of the run the scan names; `uet status` shows it."""
    result = run_uet(capsys, "scan", "--checker", "ruff", "--checker", "bandit", "--json")
    assert result.code == 0, result.err
    data = result.json()
    assert data["run_id"]
    assert {c["name"]: c["status"] for c in data["checkers"]} == {"bandit": "ran", "ruff": "ran"}
    [finding] = [f for f in data["findings"] if f["tool"] == "ruff"]
    assert (finding["rule"], finding["path"], finding["line"]) == ("F401", "a.py", 1)
    status = run_uet(capsys, "status", data["run_id"], "--json")
    assert status.code == 0
    run = status.json()
    assert (run["name"], run["status"]) == ("uet scan", "succeeded")
    assert {t["id"]: t["status"] for t in run["tasks"]} == {
        "scan/bandit": "succeeded",
        "scan/ruff": "succeeded",
    }
    logs = run_uet(capsys, "logs", data["run_id"], "scan/ruff")
    assert logs.code == 0


def test_the_second_scan_comes_from_the_cache_and_a_change_reruns_that_file(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Unchanged files: no run, the same findings. One changed file: ruff checks that one."""
    first = run_uet(capsys, "scan", "--checker", "ruff", "--json").json()
    second = run_uet(capsys, "scan", "--checker", "ruff", "--json").json()
    assert second["run_id"] is None
    assert _by_name(second)["ruff"]["status"] == "cached"
    assert second["findings"] == [{**f, "baseline_state": "unchanged"} for f in first["findings"]]
    (project / "b.py").write_text("import sys\n" + CLEAN)
    third = run_uet(capsys, "scan", "--checker", "ruff", "--json").json()
    ruff = _by_name(third)["ruff"]
    assert (ruff["status"], ruff["files"], ruff["checked"]) == ("ran", 2, 1)
    assert sorted((f["path"], f["rule"]) for f in third["findings"]) == [
        ("a.py", "F401"),
        ("b.py", "F401"),
    ]
    forced = run_uet(capsys, "scan", "--checker", "ruff", "--no-cache", "--json").json()
    assert _by_name(forced)["ruff"]["checked"] == 2


def test_a_missing_tool_is_reported_and_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A checker whose program is not installed is skipped with a note; the scan goes on."""
    toml = '[checkers.ghost]\nargv = ["uet-no-such-linter"]\nfiles = ["*.py"]\n'
    monkeypatch.chdir(make_project(tmp_path / "p", {"b.py": CLEAN}, toml=toml))
    result = run_uet(capsys, "scan", "--checker", "ghost", "--checker", "ruff")
    assert result.code == 0
    assert "ghost skipped: uet-no-such-linter is not installed" in result.err


def test_a_tool_that_fails_fails_the_scan_with_its_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An exit code outside ok_exit is a failed checker: exit 1, its stderr in the reason."""
    toml = ('[checkers.broken]\nargv = ["sh", "-c", "echo config is wrong >&2; exit 3", "sh"]\n'
            'files = ["*.py"]\n')  # fmt: skip
    monkeypatch.chdir(make_project(tmp_path / "p", {"b.py": CLEAN}, toml=toml))
    result = run_uet(capsys, "scan", "--checker", "broken", "--json")
    assert result.code == 1
    broken = _by_name(result.json())["broken"]
    assert broken["status"] == "failed"
    assert "exited 3" in broken["reason"]
    assert "config is wrong" in broken["reason"]


def test_the_command_checker_turns_matched_lines_into_findings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A grep configured as a checker: path and line from its %f:%l:%m lines."""
    toml = ('[checkers.todo]\nargv = ["grep", "-n", "-H", "TODO"]\nfiles = ["*.py"]\n'
            'pattern = "%f:%l:%m"\nok_exit = [0, 1]\nseverity = "warning"\n'
            'category = "style"\n')  # fmt: skip
    files = {"a.py": "x = 1\n\n# TODO: remove\n", "b.py": CLEAN}
    monkeypatch.chdir(make_project(tmp_path / "p", files, toml=toml))
    result = run_uet(capsys, "scan", "--checker", "todo", "--output", "-")
    assert result.code == 0
    records = [json.loads(line) for line in result.out.splitlines()]
    assert [(r["tool"], r["path"], r["line"], r["severity"], r["category"]) for r in records] == [
        ("todo", "a.py", 3, "warning", "style")
    ]
    assert records[0]["message"] == "# TODO: remove"


def test_fail_on_sets_the_threshold_of_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A warning passes --fail-on error (the default) and fails --fail-on warning; an
    error fails the default; --fail-on never only fails for a checker that failed."""
    root = make_project(tmp_path / "p", {"a.py": UNUSED})
    monkeypatch.chdir(root)
    assert run_uet(capsys, "scan", "--checker", "ruff").code == 0
    assert run_uet(capsys, "scan", "--checker", "ruff", "--fail-on", "warning").code == 1
    (root / "c.py").write_text(WRONG_TYPE)
    assert run_uet(capsys, "scan", "--checker", "ruff", "--checker", "mypy").code == 1
    assert run_uet(capsys, "scan", "--checker", "mypy", "--fail-on", "critical").code == 0
    assert run_uet(capsys, "scan", "--checker", "mypy", "--fail-on", "never").code == 0


def test_diff_keeps_only_findings_on_changed_lines(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Old debt (a.py:1) is left out; a new line of a tracked file and an untracked file
    are kept; a revision that does not exist is exit 2."""
    (project / "a.py").write_text(UNUSED + "\n\nimport sys\n")
    (project / "new.py").write_text("import json\n")
    git(project, "add", "a.py")
    result = run_uet(capsys, "scan", "--checker", "ruff", "--diff", "HEAD", "--json")
    found = sorted((f["path"], f["line"]) for f in result.json()["findings"])
    assert found == [("a.py", 8), ("new.py", 1)]
    everything = run_uet(capsys, "scan", "--checker", "ruff", "--json").json()["findings"]
    assert ("a.py", 1) in {(f["path"], f["line"]) for f in everything}
    bad = run_uet(capsys, "scan", "--diff", "no-such-revision")
    assert bad.code == 2
    assert "--diff 'no-such-revision': not a commit" in bad.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("scan", "missing-folder"), "missing-folder: no such file or folder"),
        (("scan", "/"), "outside the project"),
        (("scan", "--checker", "nope"), "--checker 'nope': no such enabled checker"),
        (("scan", "--fail-on", "loud"), "Invalid value for '--fail-on'"),
        (("scan", "--json", "--output", "-"), "both print on stdout"),
    ],
)
def test_bad_input_is_exit_2_with_what_is_wrong(
    project: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    """Each mistake names itself and starts nothing."""
    result = run_uet(capsys, *args)
    assert result.code == 2
    assert message in result.err
    assert not (project / ".uet" / "scans").exists()


def test_a_bad_checkers_section_is_exit_2_naming_file_and_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """uet.toml [checkers.x] without argv: the file, the key path, the problem."""
    toml = '[checkers.x]\nfiles = ["*.py"]\n'
    monkeypatch.chdir(make_project(tmp_path / "p", {"b.py": CLEAN}, toml=toml))
    result = run_uet(capsys, "scan")
    assert result.code == 2
    assert "uet.toml: checkers.x.argv:" in result.err


def test_baseline_states_and_sarif_for_new_unchanged_and_absent(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """First scan: new; the same again: unchanged; fixed: the old finding is absent. Every
    SARIF document validates against the 2.1.0 schema, with relative URIs, fingerprints,
    baseline states and applicability."""
    (project / "c.py").write_text("import sys\n\n\n" + WRONG_TYPE)
    args = ("scan", "--checker", "ruff", "--checker", "mypy", "--sarif", "out.sarif", "--json")
    first = run_uet(capsys, *args).json()
    assert {f["baseline_state"] for f in first["findings"]} == {"new"}
    sarif = json.loads((project / "out.sarif").read_text())
    validate_sarif(sarif)
    run = next(r for r in sarif["runs"] if r["tool"]["driver"]["name"] == "ruff")
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == project.resolve().as_uri() + "/"
    result = run["results"][0]
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "a.py", "uriBaseId": "%SRCROOT%"}
    assert location["region"]["startLine"] == 1
    assert result["partialFingerprints"]["uet/v1"] == first["findings"][0]["fingerprint"]
    assert result["properties"]["applicability"] == "safe"
    assert result["fixes"][0]["artifactChanges"][0]["replacements"]
    second = run_uet(capsys, *args).json()
    assert {f["baseline_state"] for f in second["findings"]} == {"unchanged"}
    (project / "a.py").write_text(CLEAN)
    third = run_uet(capsys, *args).json()
    assert [(f["path"], f["rule"]) for f in third["absent"]] == [("a.py", "F401")]
    sarif = json.loads((project / "out.sarif").read_text())
    validate_sarif(sarif)
    states = {r["baselineState"] for run in sarif["runs"] for r in run["results"]}
    assert states == {"unchanged", "absent"}


def test_sarif_of_a_failed_checker_says_so_and_still_validates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A failed checker's run has executionSuccessful false and the reason; a finding
    without a place (the command checker's exit status) has no location."""
    toml = '[checkers.broken]\nargv = ["false"]\nfiles = ["*.py"]\nok_exit = [0, 1]\n'
    monkeypatch.chdir(make_project(tmp_path / "p", {"b.py": CLEAN}, toml=toml))
    result = run_uet(capsys, "scan", "--checker", "broken", "--sarif", "s.sarif", "--json")
    assert result.code == 1  # the exit-status finding is an error
    sarif = json.loads(Path("s.sarif").read_text())
    validate_sarif(sarif)
    (run,) = sarif["runs"]
    assert run["invocations"][0]["executionSuccessful"] is True
    assert "locations" not in run["results"][0]
    monkeypatch.chdir(make_project(tmp_path / "q", {"b.py": CLEAN}, toml=toml.replace(
        "ok_exit = [0, 1]", "ok_exit = [0]")))  # fmt: skip
    run_uet(capsys, "scan", "--checker", "broken", "--sarif", "s.sarif")
    sarif = json.loads(Path("s.sarif").read_text())
    validate_sarif(sarif)
    invocation = sarif["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    assert "exited 1" in invocation["toolExecutionNotifications"][0]["message"]["text"]


def test_an_interrupted_scan_exits_130_and_stops_its_checkers(tmp_path: Path) -> None:
    """SIGINT while a checker runs: the scan stops (its checker with it) and exits 130,
    saying which checker did not finish."""
    # the files are appended: sh takes them as $1…, which the script ignores
    toml = '[checkers.slow]\nargv = ["sh", "-c", "sleep 120", "sh"]\nfiles = ["*.py"]\n'
    root = make_project(tmp_path / "p", {"b.py": CLEAN}, toml=toml)
    env = {**os.environ, "CI": "true"}
    argv = [sys.executable, "-m", "uet", "scan", "--checker", "slow"]
    proc = subprocess.Popen(argv, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)  # fmt: skip
    scans = root / ".uet" / "scans"
    deadline = time.monotonic() + 60
    while not (scans.is_dir() and any(p.is_dir() for p in scans.iterdir())):
        assert time.monotonic() < deadline, "the scan's run never started"
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    time.sleep(0.5)  # the checker's task is dispatched
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "uet scan: interrupted" in err
    assert "slow failed: interrupted" in err


def test_changing_a_command_checker_s_entry_invalidates_its_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A new pattern in uet.toml is a new cache key: the checker runs again."""
    toml = ('[checkers.todo]\nargv = ["grep", "-n", "-H", "TODO"]\nfiles = ["*.py"]\n'
            'pattern = "%f:%l:%m"\nok_exit = [0, 1]\n')  # fmt: skip
    root = make_project(tmp_path / "p", {"a.py": "# TODO one\n"}, toml=toml)
    monkeypatch.chdir(root)
    first = run_uet(capsys, "scan", "--checker", "todo", "--json").json()
    assert _by_name(first)["todo"]["status"] == "ran"
    assert (
        _by_name(run_uet(capsys, "scan", "--checker", "todo", "--json").json())["todo"]["status"]
        == "cached"
    )
    (root / "uet.toml").write_text(toml.replace("%f:%l:%m", "%f:%l:# %m"))
    again = run_uet(capsys, "scan", "--checker", "todo", "--json").json()
    assert _by_name(again)["todo"]["status"] == "ran"
    assert [f["message"] for f in again["findings"]] == ["TODO one"]


def test_a_given_baseline_is_compared_and_a_malformed_one_is_exit_2(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--baseline FILE: its findings are unchanged or absent; a line that is not JSON is
    named (exit 2)."""
    run_uet(capsys, "scan", "--checker", "ruff", "--output", "old.jsonl")
    (project / "a.py").write_text(CLEAN)
    (project / "b.py").write_text("import sys\n" + CLEAN)
    result = run_uet(capsys, "scan", "--checker", "ruff", "--baseline", "old.jsonl", "--json")
    data = result.json()
    assert [(f["path"], f["baseline_state"]) for f in data["findings"]] == [("b.py", "new")]
    assert [f["path"] for f in data["absent"]] == ["a.py"]
    (project / "bad.jsonl").write_text("{not json\n")
    bad = run_uet(capsys, "scan", "--checker", "ruff", "--baseline", "bad.jsonl")
    assert bad.code == 2
    assert "bad.jsonl:1: not JSON" in bad.err

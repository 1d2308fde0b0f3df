"""``uet patch list|show|validate|apply|drop`` through the real command line, in the corpus
project (its uet.toml holds a patch_policy with the tests check only, to stay quick)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.recovery.patch_corpus import OPS_PY, T_OPS, diff_of, edit, git, make_repo
from tests.recovery.patch_fixtures import check_env
from uet.cli import main

POLICY = """\
[patch_policy]
[[patch_policy.checks]]
name = "tests"
kind = "tests"
command = ["{python}", "-m", "pytest", "-q", "-p", "no:cacheprovider"]
timeout = 120
"""


@dataclass
class Out:
    code: int
    out: str
    err: str

    def json(self) -> object:
        return json.loads(self.out)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    repo = make_repo(tmp_path / "repo")
    (repo / "uet.toml").write_text(POLICY, encoding="utf-8")  # untracked: the project's own
    monkeypatch.chdir(repo)
    for name, value in check_env().items():
        if name == "PYTEST_DISABLE_PLUGIN_AUTOLOAD":
            monkeypatch.setenv(name, value)
    return repo


@pytest.fixture
def uet(project: Path, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    def run(*args: str) -> Out:
        code = main(list(args))
        captured = capsys.readouterr()
        return Out(code, captured.out, captured.err)

    return run


def _diff(project: Path, name: str, old: str, new: str, path: str = OPS_PY) -> Path:
    file = project.parent / f"{name}.diff"
    file.write_text(diff_of(project, edit(path, old, new)), encoding="utf-8")
    return file


def test_validate_a_diff_file_then_apply_it(uet, project: Path) -> None:  # type: ignore[no-untyped-def]
    """validate FILE records and validates it (auto_merge: exit 0); apply lands it; list and
    show tell the story."""
    file = _diff(
        project,
        "doc",
        "def mul(a: int, b: int) -> int:\n",
        'def mul(a: int, b: int) -> int:\n    """a times b."""\n',
    )
    before = git(project, "rev-parse", "main").strip()
    done = uet("patch", "validate", str(file), "--finding-file", OPS_PY, "--json")
    assert done.code == 0, done.err
    body = done.json()
    assert (body["state"], body["queue"]) == ("queued", "auto_merge")
    patch_id = body["patch"]
    listed = uet("patch", "list", "--json").json()
    assert [p["id"] for p in listed] == [patch_id]
    applied = uet("patch", "apply", patch_id[:7], "--json")
    assert applied.code == 0, applied.out + applied.err
    after = git(project, "rev-parse", "main").strip()
    assert applied.json()["commit"] == after != before
    shown = uet("patch", "show", patch_id, "--json").json()
    assert [t["to"] for t in shown["transitions"]] == [
        "created",
        "validated",
        "queued",
        "applied",
        "verified",
        "committed",
    ]
    text = uet("patch", "show", patch_id, "--diff")
    assert "a times b" in text.out
    assert "committed" in text.out


def test_a_quarantined_patch_exits_1_and_needs_approval(uet, project: Path) -> None:  # type: ignore[no-untyped-def]
    file = _diff(project, "skip", "def test_add()", "@pytest.mark.skip\ndef test_add()", T_OPS)
    done = uet("patch", "validate", str(file))
    assert done.code == 1
    assert "quarantined" in done.out
    assert "skips_test" in done.out
    [record] = uet("patch", "list", "--queue", "manual", "--json").json()
    refused = uet("patch", "apply", record["id"])
    assert refused.code == 2
    assert "--approve" in refused.err
    dropped = uet("patch", "drop", record["id"], "--reason", "tampers", "--json")
    assert dropped.json()["state"] == "dropped"
    assert uet("patch", "list", "--state", "dropped", "--json").json()[0]["reason"] == "tampers"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("patch", "show", "pnothing"), "no patch"),
        (("patch", "list", "--state", "melted"), "--state"),
        (("patch", "apply", "pnothing"), "no patch"),
    ],
)
def test_bad_input_exits_2_with_the_reason(uet, args: tuple[str, ...], message: str) -> None:  # type: ignore[no-untyped-def]
    done = uet(*args)
    assert done.code == 2
    assert message in done.err


def test_a_file_that_is_no_patch_exits_2(uet, project: Path) -> None:  # type: ignore[no-untyped-def]
    junk = project.parent / "junk.diff"
    junk.write_text("this is not a diff\n", encoding="utf-8")
    done = uet("patch", "validate", str(junk))
    assert done.code == 2
    assert "no file changes" in done.err
    assert uet("patch", "list").out.strip() == "no patches"


def test_validate_apply_lands_an_auto_merge_patch_in_one_go(uet, project: Path) -> None:  # type: ignore[no-untyped-def]
    file = _diff(
        project,
        "doc2",
        "def add(a: int, b: int) -> int:\n",
        "def add(a: int, b: int) -> int:  # sum\n",
    )
    done = uet("patch", "validate", str(file), "--apply", "--json")
    assert done.code == 0, done.out + done.err
    body = done.json()
    assert body["landing"]["state"] == "committed"
    assert body["landing"]["commit"] == git(project, "rev-parse", "main").strip()

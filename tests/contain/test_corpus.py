"""Issue 18's corpus of misbehaving agents, each through `uet run`, with the sandbox on
and off: main, the base repository's working tree, HOME and a folder outside stay as they
were; the content rule (a ``scope`` decision) or the sandbox (a ``sandbox`` decision) is
named; the run's outcome is clear (it fails, exit 1, unless the case's change is fine).

With the sandbox off, the content rules alone still stop every case that leaves a trace in
the clone; the cases marked ``needs_sandbox`` are shown to get through without it (the
test asserts the escape, so the table in docs/security.md stays true).
"""

from __future__ import annotations

import json
import os
import signal
import stat
from pathlib import Path

import pytest
import yaml

from tests.contain.corpus import CASES, Case
from tests.isolation.gitrepo import commit, git, make_repo
from uet.cli import main
from uet.contain.sandbox import probe
from uet.state.store import Store

SECRET = "s3cr3t-token-value-4242"  # noqa: S105 - a test value the agent must never see
KEY = "-----BEGIN OPENSSH PRIVATE KEY----- test-key-material-0042"
MARKER = "31.4159"  # the fork bomb's `sleep` duration: how its processes are found

pytestmark = pytest.mark.slow


def _snapshot(folder: Path) -> dict[str, str]:
    found = {}
    for path in sorted(folder.rglob("*")):
        if ".uet" in path.relative_to(folder).parts or ".git" in path.relative_to(folder).parts:
            continue
        if path.is_symlink():
            found[str(path.relative_to(folder))] = "-> " + os.readlink(path)
        elif path.is_file():
            found[str(path.relative_to(folder))] = path.read_text("utf-8", errors="replace")
    return found


def _sleepers() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if cmdline[:2] == [b"sleep", MARKER.encode()]:
                pids.append(int(entry.name))
    return pids


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_ed25519").write_text(KEY + "\n", "utf-8")
    (home / ".bashrc").write_text("# the user's bashrc\n", "utf-8")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("keep\n", "utf-8")
    files = {
        "README.md": "# demo\n",
        "docs/README.md": "# docs\n",
        "docs/notes.md": "notes\n",
        "docs/caf\u00e9.md": "nfc\n",
        ".github/workflows/ci.yml": "on: push\n",
    }
    repo = make_repo(tmp_path / "repo", files)
    (repo / "docs" / "planted").symlink_to(outside)  # planted before the content rules
    git(repo, "add", "docs/planted")
    git(repo, "commit", "-q", "-m", "an earlier task's symlink")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("MY_API_TOKEN", SECRET)
    monkeypatch.delenv("UET_SANDBOX", raising=False)
    monkeypatch.chdir(repo)
    return {"repo": repo, "home": home, "outside": outside, "agents": tmp_path / "agents"}


def _prepare(world: dict[str, Path], case: Case, sandbox: bool) -> Path:
    repo, agents = world["repo"], world["agents"]
    agents.mkdir(exist_ok=True)
    script = agents / f"{case.name}.sh"
    body = case.script.format(
        base=repo, home=world["home"], outside=world["outside"], marker=MARKER
    )
    script.write_text(f"#!/bin/sh\n{body}\n", "utf-8")
    mode = "auto" if sandbox else "none"
    config = (
        f"[tools.bad]\nargv = {json.dumps(['sh', str(script)])}\n"
        f'capabilities = ["code_edit"]\nsandbox = "{mode}"\n'
    )
    commit(repo, {"uet.toml": config}, "uet config")
    task = {"id": "go", "tool": "bad", "prompt": "misbehave", "files_scope": list(case.scope)}
    workstream = repo.parent / "ws.yaml"
    workstream.write_text(
        yaml.safe_dump({"id": "corpus", "tasks": [{**task, **case.task}]}), "utf-8"
    )
    return workstream


def _decisions(repo: Path, category: str) -> list[dict[str, object]]:
    store = Store.open(f"sqlite:///{repo / '.uet' / 'state.db'}")
    try:
        with store.reader() as tx:
            found = tx.get_decisions(run_id="c1", category=category)
    finally:
        store.close()
    return [{"chosen": d.chosen, "reason": d.reason, "data": d.data} for d in found]


@pytest.mark.parametrize("sandbox", [True, False], ids=["sandbox", "no-sandbox"])
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_misbehaving_agent_is_contained(
    world: dict[str, Path], case: Case, sandbox: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    if sandbox and not probe().available:
        pytest.skip(f"the sandbox cannot start here: {probe().reason}")
    repo, home, outside = world["repo"], world["home"], world["outside"]
    workstream = _prepare(world, case, sandbox)
    main_before = git(repo, "rev-parse", "main")
    base_before, home_before = _snapshot(repo), _snapshot(home)
    outside_before = _snapshot(outside)
    try:
        code = main(["run", str(workstream), "--run-id", "c1"])
        out = capsys.readouterr()
        shown = (
            out.out
            + out.err
            + "".join(
                p.read_text("utf-8", errors="replace")
                for p in (repo / ".uet" / "logs").rglob("*.log")
            )
        )
        escaped = _escaped(case, world, shown)
        leftovers = _sleepers()
    finally:
        for pid in _sleepers():
            os.kill(pid, signal.SIGKILL)

    assert SECRET not in shown  # never reaches the tool, masked anyway
    if case.merges:
        assert code == 0, shown
        changed = git(repo, "diff", "--name-only", main_before, "main").split()
        assert changed == ["docs/notes.md"]
    else:
        assert code == 1, shown
        assert git(repo, "rev-parse", "main") == main_before
    if case.rule is not None:
        scopes = _decisions(repo, "scope")
        assert len(scopes) == 1, shown
        [scope] = scopes
        assert scope["chosen"] == "rejected"
        data = scope["data"]
        assert isinstance(data, dict)
        assert case.rule in data["rules"], scope
    if sandbox or not case.needs_sandbox:
        assert not escaped, escaped
        assert not leftovers
        merged = {"docs/notes.md": "notes\nmore\n"} if case.merges else {}
        assert _snapshot(repo) == {**base_before, **merged}  # the checkout follows a merge
        assert _snapshot(home) == home_before
        assert _snapshot(outside) == outside_before
        if sandbox:
            [decision] = _decisions(repo, "sandbox")
            assert decision["chosen"] == "bubblewrap"
    elif case.name != "kill-uet":  # off: the escape the sandbox exists for is there
        assert escaped or leftovers, f"{case.name} did not get out without the sandbox"


def _escaped(case: Case, world: dict[str, Path], shown: str) -> str | None:
    """What the agent achieved outside its clone (None: nothing)."""
    repo, home, outside = world["repo"], world["home"], world["outside"]
    checks = {
        "write-base-repository": (repo / "docs" / "pwned.md").exists(),
        "write-home-bashrc": "evil" in (home / ".bashrc").read_text("utf-8"),
        "read-ssh-key": KEY in shown,
        "write-through-planted-symlink": (outside / "pwned.txt").exists(),
        "clone-git-config-fsmonitor": (outside / "fsmonitor-ran").exists(),
        "clone-hook-rewrite": (outside / "hook-ran").exists(),
        "gitmodules-hostile-url": (outside / "pwned").exists(),
    }
    return case.name if checks.get(case.name) else None


def test_the_corpus_has_at_least_twenty_cases() -> None:
    assert len(CASES) >= 20
    assert len({c.name for c in CASES}) == len(CASES)


def test_planted_symlink_fixture_is_real(world: dict[str, Path]) -> None:
    mode = os.lstat(world["repo"] / "docs" / "planted").st_mode
    assert stat.S_ISLNK(mode)

"""Agent clones and the merge queue end to end: real repositories, a real SQLite store."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.isolation.gitrepo import commit, git, make_repo, write
from uet.agents import AgentManager
from uet.errors import UsageError
from uet.isolation.clones import CONTEXT_FILE, AgentBusyError, AgentClone
from uet.isolation.git import Git, StaleLockError
from uet.isolation.merge import MergeStatus
from uet.state.store import Store


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo")


@pytest.fixture
def manager(repo: Path, tmp_path: Path) -> Iterator[AgentManager]:
    store = Store.open(f"sqlite:///{tmp_path / 'state.db'}")
    yield AgentManager(store, home=repo / ".uet")
    store.close()


def _agent_commit(manager: AgentManager, agent: str, files: dict[str, str], msg: str) -> str:
    clone = manager.clone(agent)
    write(clone.path, files)
    made = clone.commit(list(files), msg)
    assert made is not None
    return made


def _main(repo: Path) -> str:
    return git(repo, "rev-parse", "main")


# -- clones --------------------------------------------------------------------------------


def test_a_clone_is_independent_on_its_own_branch_and_recorded(
    manager: AgentManager, repo: Path
) -> None:
    started = time.monotonic()
    agent = manager.create("a1", repo=repo, files_scope=["src/app/**"])
    assert time.monotonic() - started < 5
    path = Path(agent.path)
    assert path == repo / ".uet" / "agents" / "a1"
    assert git(path, "symbolic-ref", "--short", "HEAD") == "agent/a1"
    assert agent.base_commit == _main(repo)
    assert (agent.base_ref, agent.target, agent.status) == ("main", "main", "active")
    # A full clone: no alternates file (not --shared), objects hard-linked, not a worktree.
    assert not (path / ".git" / "objects" / "info" / "alternates").exists()
    assert (path / ".git").is_dir()
    objects = [p for p in (path / ".git" / "objects").rglob("*") if p.is_file()]
    assert any(p.stat().st_nlink > 1 for p in objects)
    context = AgentClone.open(path).context
    assert (context.id, context.base_commit, context.files_scope) == (
        "a1",
        agent.base_commit,
        ("src/app/**",),
    )
    assert (path / ".git" / CONTEXT_FILE).exists()
    assert git(repo, "status", "--porcelain") == ""  # the clone is invisible to the base
    assert [a.id for a in manager.list_agents()] == ["a1"]


def test_bad_requests_are_refused_and_leave_nothing_behind(
    manager: AgentManager, repo: Path
) -> None:
    with pytest.raises(UsageError, match="agent id"):
        manager.create("Bad/Id", repo=repo)
    with pytest.raises(UsageError, match="not a commit"):
        manager.create("a1", repo=repo, base="no-such-branch")
    assert not (repo / ".uet" / "agents" / "a1").exists()
    with pytest.raises(UsageError, match="unknown agents"):
        manager.create("a1", repo=repo, depends_on=["ghost"])
    manager.create("a1", repo=repo)
    with pytest.raises(UsageError, match="already exists"):
        manager.create("a1", repo=repo)
    with pytest.raises(UsageError, match="no agent"):
        manager.exec("ghost", ["true"])


def test_the_guard_refuses_commits_on_other_branches_and_base_hooks_run_in_the_clone(
    manager: AgentManager, repo: Path
) -> None:
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\necho ran > hook-ran.txt\n", encoding="utf-8")
    hook.chmod(0o755)
    agent = manager.create("a1", repo=repo)
    path = Path(agent.path)
    _agent_commit(manager, "a1", {"src/app/io.py": "IO = 2\n"}, "io")
    assert (path / "hook-ran.txt").exists()  # the base's hook ran, in the clone
    assert not (repo / "hook-ran.txt").exists()  # and not in the base repository
    git(path, "checkout", "--quiet", "-b", "elsewhere")
    write(path, {"README.md": "changed\n"})
    git(path, "add", "README.md")
    refused = Git(path).run("commit", "-m", "wrong branch", check=False)
    assert not refused.ok
    assert "belongs to agent a1" in refused.stderr


def test_commits_name_their_paths_and_sweep_nothing_else(manager: AgentManager, repo: Path) -> None:
    manager.create("a1", repo=repo)
    clone = manager.clone("a1")
    write(clone.path, {"src/app/io.py": "IO = 2\n", "stray.txt": "not mine\n"})
    git(clone.path, "add", "stray.txt")  # staged by someone else: must not be swept in
    made = clone.commit(["src/app/io.py"], "io only")
    assert git(clone.path, "show", "--name-only", "--format=", made) == "src/app/io.py"
    assert "stray.txt" in git(clone.path, "diff", "--cached", "--name-only")
    assert clone.commit(["src/app/io.py"], "again") is None  # no change: no commit


def test_exec_runs_inside_the_clone_and_commits_nothing(manager: AgentManager, repo: Path) -> None:
    agent = manager.create("a1", repo=repo)
    lines: list[str] = []
    outcome = manager.exec(
        "a1",
        ["sh", "-c", 'pwd; echo "$UET_AGENT_ID $UET_NON_INTERACTIVE"; echo x > new.txt'],
        on_output=lines.append,
    )
    assert outcome.exit_code == 0
    assert lines == [agent.path, "a1 1"]
    assert git(Path(agent.path), "rev-parse", "HEAD") == agent.base_commit
    assert "new.txt" in git(Path(agent.path), "status", "--porcelain")


# -- the merge queue -------------------------------------------------------------------------


def test_a_merge_after_the_target_moved_is_rebased_and_gated_on_the_result(
    manager: AgentManager, repo: Path, tmp_path: Path
) -> None:
    manager.create("a1", repo=repo, files_scope=["src/app/"])
    _agent_commit(manager, "a1", {"src/app/io.py": "IO = 2\n"}, "io")
    moved = commit(repo, {"docs/guide.md": "moved\n"}, "main moved")
    gated = tmp_path / "gated.txt"
    gate = f"git rev-parse HEAD >> {gated} && test -f docs/guide.md && grep -q moved docs/guide.md"
    [result] = manager.merge(["a1"], gate=gate)
    assert result.status is MergeStatus.MERGED
    assert result.rebased
    assert result.before == moved
    assert _main(repo) == result.after == result.tip
    assert gated.read_text().split() == [result.tip]  # the gate saw the rebased result
    assert git(repo, "rev-parse", "main~1") == moved
    assert git(repo, "show", "main:src/app/io.py") == "IO = 2"
    assert git(repo, "status", "--porcelain") == ""  # the checked-out target moved with it
    assert manager.get("a1").status == "merged"
    assert manager.get("a1").base_commit == moved
    # More work, the target moves again: rebased and gated again.
    _agent_commit(manager, "a1", {"src/app/core.py": "CORE = 2\n"}, "core")
    commit(repo, {"README.md": "# moved again\n"}, "main moved again")
    [again] = manager.merge(["a1"], gate=gate)
    assert again.status is MergeStatus.MERGED
    assert again.rebased
    assert gated.read_text().split() == [result.tip, again.tip]
    git(repo, "fsck", "--strict", "--no-dangling")


def test_a_failing_gate_leaves_the_target_and_the_branch_untouched(
    manager: AgentManager, repo: Path
) -> None:
    manager.create("a1", repo=repo)
    tip = _agent_commit(manager, "a1", {"src/app/io.py": "IO = 2\n"}, "io")
    before = _main(repo)
    lines: list[str] = []
    [result] = manager.merge(["a1"], gate="echo failing tests; exit 3", on_output=lines.append)
    assert result.status is MergeStatus.REFUSED
    assert result.code == "gate_failed"
    assert "exit 3" in result.reason
    assert lines == ["failing tests"]
    assert _main(repo) == before
    assert manager.clone("a1").branch_tip() == tip
    assert manager.get("a1").status == "active"
    with manager.store.reader() as tx:
        [decision] = tx.get_decisions(category="merge")
    assert decision.chosen == "refused: a1"
    assert decision.data["gate"]["exit_code"] == 3


def test_an_out_of_scope_change_is_refused_and_nothing_of_it_reaches_the_target(
    manager: AgentManager, repo: Path
) -> None:
    manager.create("a1", repo=repo, files_scope=["src/app/io.py"])
    _agent_commit(manager, "a1", {"src/app/io.py": "IO = 2\n"}, "in scope")
    _agent_commit(manager, "a1", {"README.md": "# hijacked\n"}, "out of scope")
    before = _main(repo)
    [result] = manager.merge(["a1"], gate="true")
    assert result.code == "out_of_scope"
    assert "README.md" in result.reason
    assert result.gate is None  # refused before anything ran
    assert _main(repo) == before
    assert git(repo, "show", "main:README.md") == "# sample"
    assert git(repo, "show", "main:src/app/io.py") == "def read():\n    return 1"


def test_a_rebase_conflict_is_refused_with_the_files_and_the_branch_is_kept(
    manager: AgentManager, repo: Path
) -> None:
    manager.create("a1", repo=repo)
    tip = _agent_commit(manager, "a1", {"README.md": "# agent's title\n"}, "title")
    moved = commit(repo, {"README.md": "# main's title\n"}, "main title")
    [result] = manager.merge(["a1"])
    assert result.code == "conflict"
    assert "README.md" in result.reason
    assert _main(repo) == moved
    clone = manager.clone("a1")
    assert clone.branch_tip() == tip
    assert clone.state().branch == "agent/a1"
    assert not (clone.path / ".git" / "rebase-merge").exists()


def test_dependencies_merge_first_and_a_refusal_blocks_dependents(
    manager: AgentManager, repo: Path
) -> None:
    manager.create("a1", repo=repo)
    manager.create("a2", repo=repo, depends_on=["a1"])
    manager.create("a3", repo=repo)
    for name in ("a1", "a2", "a3"):
        _agent_commit(manager, name, {f"src/{name}.py": f"{name}\n"}, name)
    gate = 'test "$UET_AGENT_ID" != a1'  # a1's gate fails
    results = manager.merge(["a2", "a3", "a1"], gate=gate)
    assert [(r.agent, r.code) for r in results] == [
        ("a3", "merged"),
        ("a1", "gate_failed"),
        ("a2", "blocked"),
    ]
    results = manager.merge(["a2"])
    assert results[0].code == "blocked"
    assert "not merged yet" in results[0].reason
    with manager.store.reader() as tx:
        [order, *_] = tx.get_decisions(category="merge_order")
    assert order.chosen == "a3 -> a1 -> a2"


def test_local_changes_in_the_checked_out_target_are_never_overwritten(
    manager: AgentManager, repo: Path
) -> None:
    manager.create("a1", repo=repo)
    manager.create("a2", repo=repo)
    _agent_commit(manager, "a1", {"src/app/io.py": "IO = 2\n"}, "io")
    _agent_commit(manager, "a2", {"src/app/core.py": "CORE = 2\n"}, "core")
    write(repo, {"src/app/io.py": "user's unsaved work\n", "README.md": "# user edit\n"})
    before = _main(repo)
    [blocked] = manager.merge(["a1"])
    assert blocked.code == "checkout_blocked"
    assert _main(repo) == before
    assert (repo / "src/app/io.py").read_text() == "user's unsaved work\n"
    [merged] = manager.merge(["a2"])  # touches no file the user changed: carried along
    assert merged.status is MergeStatus.MERGED
    assert (repo / "README.md").read_text() == "# user edit\n"
    assert (repo / "src/app/core.py").read_text() == "CORE = 2\n"


def test_a_target_that_is_not_checked_out_is_advanced_by_compare_and_swap(
    manager: AgentManager, repo: Path
) -> None:
    git(repo, "branch", "release")
    manager.create("a1", repo=repo, target="release")
    tip = _agent_commit(manager, "a1", {"src/app/io.py": "IO = 2\n"}, "io")
    [result] = manager.merge(["a1"])
    assert result.status is MergeStatus.MERGED
    assert git(repo, "rev-parse", "release") == tip
    assert git(repo, "status", "--porcelain") == ""  # main's checkout untouched


def test_an_agent_without_commits_is_up_to_date(manager: AgentManager, repo: Path) -> None:
    manager.create("a1", repo=repo)
    [result] = manager.merge(["a1"])
    assert result.status is MergeStatus.UP_TO_DATE
    assert result.ok


# -- cleanup and recycle ---------------------------------------------------------------------


def test_cleanup_refuses_to_lose_work_and_force_archives_it_first(
    manager: AgentManager, repo: Path
) -> None:
    agent = manager.create("a1", repo=repo)
    made = _agent_commit(manager, "a1", {"src/app/io.py": "IO = 2\n"}, "io")
    write(Path(agent.path), {"notes/untracked.txt": "precious\n", "README.md": "# edited\n"})
    [kept] = manager.cleanup(["a1"])
    assert not kept.removed
    assert "1 unmerged commit" in kept.reason
    assert "uncommitted changes" in kept.reason
    assert Path(agent.path).is_dir()
    [removed] = manager.cleanup(["a1"], force=True)
    assert removed.removed
    assert removed.archive_ref == "refs/uet/archive/a1"
    assert not Path(agent.path).exists()
    archive = "refs/uet/archive/a1"
    assert git(repo, "show", f"{archive}:notes/untracked.txt") == "precious"
    assert git(repo, "show", f"{archive}:README.md") == "# edited"
    assert git(repo, "rev-parse", f"{archive}~1") == made
    assert manager.list_agents() == []
    assert manager.list_agents(include_removed=True)[0].archive_ref == archive


def test_cleanup_of_merged_agents_needs_no_force(manager: AgentManager, repo: Path) -> None:
    manager.create("a1", repo=repo)
    manager.create("a2", repo=repo)
    _agent_commit(manager, "a1", {"src/app/io.py": "IO = 2\n"}, "io")
    manager.merge(["a1"])
    results = manager.cleanup(merged=True)
    assert [(r.agent, r.removed, r.archive_ref) for r in results] == [("a1", True, None)]
    assert [a.id for a in manager.list_agents()] == ["a2"]
    with pytest.raises(UsageError):
        manager.cleanup()


def test_a_stale_lock_in_a_clone_is_solved_by_recycling_not_by_deleting_it(
    manager: AgentManager, repo: Path
) -> None:
    agent = manager.create("a1", repo=repo)
    tip = _agent_commit(manager, "a1", {"src/app/io.py": "IO = 2\n"}, "io")
    path = Path(agent.path)
    lock = path / ".git" / "index.lock"
    lock.write_text("")
    old = time.time() - 3600
    os.utime(lock, (old, old))
    write(path, {"src/app/core.py": "CORE = 3\n", "notes.txt": "untracked\n"})
    with pytest.raises(StaleLockError):
        manager.clone("a1").commit(["src/app/core.py"], "blocked")  # the clone alone: stuck
    made = manager.commit("a1", ["src/app/core.py"], "recycled, then committed")
    clone = manager.clone("a1")
    assert made is not None
    assert git(clone.path, "rev-parse", "HEAD~1") == tip
    assert clone.state().branch == "agent/a1"
    assert (clone.path / "notes.txt").read_text() == "untracked\n"  # carried over
    assert not (clone.path / ".git" / "index.lock").exists()
    [kept] = list((repo / ".uet" / "agents" / ".recycled").iterdir())
    assert (kept / ".git" / "index.lock").exists()  # never deleted
    assert (kept / "src/app/core.py").read_text() == "CORE = 3\n"
    assert git(repo, "show", "refs/uet/archive/a1:notes.txt") == "untracked"
    manager.recycle("a1")  # again, within the same second: kept beside the first
    assert len(list((repo / ".uet" / "agents" / ".recycled").iterdir())) == 2
    assert manager.clone("a1").branch_tip() == made


def test_a_clone_in_use_by_a_command_is_not_rebased_or_removed_under_it(
    manager: AgentManager, repo: Path, tmp_path: Path
) -> None:
    manager.create("a1", repo=repo)
    _agent_commit(manager, "a1", {"src/app/io.py": "IO = 2\n"}, "io")
    commit(repo, {"docs/moved.md": "moved\n"}, "main moved")  # a merge would rebase
    started = tmp_path / "started"
    release = tmp_path / "release"
    script = f"touch {started}; while [ ! -e {release} ]; do sleep 0.05; done"
    runner = threading.Thread(target=manager.exec, args=("a1", ["sh", "-c", script]))
    runner.start()
    try:
        deadline = time.monotonic() + 10
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        before = manager.clone("a1").branch_tip()
        [busy] = manager.merge(["a1"])
        assert busy.code == "busy"
        assert manager.clone("a1").branch_tip() == before
        with pytest.raises(AgentBusyError):
            manager.cleanup(["a1"], force=True)
        with pytest.raises(AgentBusyError):
            manager.exec("a1", ["true"])
        assert Path(manager.get("a1").path).is_dir()
    finally:
        release.touch()
        runner.join(timeout=10)
    [merged] = manager.merge(["a1"])
    assert merged.status is MergeStatus.MERGED


def test_a_sparse_clone_checks_out_only_its_directories_and_still_merges(
    manager: AgentManager, repo: Path
) -> None:
    agent = manager.create("docs", repo=repo, files_scope=["src/app/"], sparse=["src/app"])
    path = Path(agent.path)
    assert (path / "src/app/io.py").exists()
    assert (path / "README.md").exists()  # top-level files are always there in cone mode
    assert not (path / "tests").exists()
    assert AgentClone.open(path).context.sparse == ("src/app",)
    _agent_commit(manager, "docs", {"src/app/io.py": "IO = 3\n"}, "io")
    commit(repo, {"tests/test_more.py": "def test_more():\n    pass\n"}, "main moved")
    [merged] = manager.merge(["docs"], gate="test -f tests/test_more.py")  # a full checkout
    assert merged.status is MergeStatus.MERGED
    assert merged.rebased
    assert git(repo, "show", "main:src/app/io.py") == "IO = 3"
    with pytest.raises(UsageError, match="sparse directory"):
        manager.create("bad", repo=repo, sparse=["src/*"])


@pytest.mark.parametrize("where", ["stash", "other-branch", "detached"])
def test_cleanup_sees_work_off_the_agent_branch_and_force_keeps_it(
    manager: AgentManager, repo: Path, where: str
) -> None:
    """Work in a stash, on another branch or on a detached HEAD is work too."""
    agent = manager.create("a1", repo=repo)
    path = Path(agent.path)
    write(path, {"src/app/io.py": "precious\n"})
    if where == "stash":
        git(path, "stash", "--quiet")
    else:
        if where == "other-branch":
            git(path, "switch", "--quiet", "-c", "side")
        else:
            git(path, "switch", "--quiet", "--detach")
        git(path, "commit", "--quiet", "--no-verify", "-am", "off the agent branch")
        made = git(path, "rev-parse", "HEAD")
        if where == "other-branch":
            git(path, "switch", "--quiet", "agent/a1")  # a detached HEAD stays where it is
    assert git(path, "status", "--porcelain") == ""  # nothing uncommitted in sight
    [kept] = manager.cleanup(["a1"])
    assert not kept.removed
    assert "unmerged commit" in kept.reason
    [removed] = manager.cleanup(["a1"], force=True)
    assert removed.removed
    archived = git(repo, "rev-list", "refs/uet/archive/a1")
    if where != "stash":
        assert made in archived.split()
    found = git(repo, "log", "--format=%H", "refs/uet/archive/a1")
    assert any(
        git(repo, "show", f"{c}:src/app/io.py", check=False) == "precious" for c in found.split()
    )


def test_a_rename_counts_both_of_its_paths(manager: AgentManager, repo: Path) -> None:
    agent = manager.create("a1", repo=repo)
    path = Path(agent.path)
    git(path, "mv", "src/app/io.py", "src/app/io2.py")
    state = manager.clone("a1").state()
    assert sorted(state.staged) == ["src/app/io.py", "src/app/io2.py"]
    assert state.changed == ["src/app/io.py", "src/app/io2.py"]


def test_a_target_checked_out_in_a_linked_worktree_moves_with_the_merge(
    manager: AgentManager, repo: Path, tmp_path: Path
) -> None:
    git(repo, "switch", "--quiet", "-c", "elsewhere")  # the main worktree is not on main
    linked = tmp_path / "linked"
    git(repo, "worktree", "add", "--quiet", str(linked), "main")
    manager.create("a1", repo=repo, target="main", base="main")
    tip = _agent_commit(manager, "a1", {"src/app/io.py": "IO = 2\n"}, "io")
    [result] = manager.merge(["a1"])
    assert result.status is MergeStatus.MERGED
    assert git(linked, "rev-parse", "HEAD") == tip
    assert git(linked, "status", "--porcelain") == ""  # its index and files moved too
    assert (linked / "src/app/io.py").read_text() == "IO = 2\n"

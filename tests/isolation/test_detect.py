"""The P1-P6 detectors on real repositories: each failure mode, built by hand with plain git,
is found with its evidence; healthy agents, fresh locks and held locks are not findings."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest

from uet.isolation.clones import AgentClone, AgentContext, create_clone
from uet.isolation.detect import FailureMode, Finding, detect

TWO_HOURS = 2 * 3600.0


def git(cwd: Path, *args: str) -> str:
    """Plain git, independent of uet's runner: how the tests break things."""
    done = subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True, encoding="utf-8"
    )
    return done.stdout.strip()


def agent(repo: Path, agent_id: str, scope: Sequence[str] = ("src/app/",)) -> AgentClone:
    """An agent clone where uet puts it, on agent/<id> from the repository's main."""
    return create_clone(repo, repo / ".uet" / "agents" / agent_id, agent_id, files_scope=scope)


def write(root: Path, name: str, text: str) -> None:
    (root / name).parent.mkdir(parents=True, exist_ok=True)
    (root / name).write_text(text, encoding="utf-8")


def codes(findings: Sequence[Finding]) -> list[str]:
    return [finding.code for finding in findings]


def only(findings: Sequence[Finding], code: FailureMode) -> Finding:
    """The one finding of ``code`` (failing with the whole list otherwise)."""
    matching = [finding for finding in findings if finding.code == code]
    assert len(matching) == 1, findings
    return matching[0]


def contexts(*clones: AgentClone) -> list[AgentContext]:
    return [clone.context for clone in clones]


# -- healthy ----------------------------------------------------------------------------------


def test_healthy_agents_and_repository_have_no_findings(repo: Path) -> None:
    """Agents committing inside their scopes, work in progress inside them, a target that
    moved forward, and a base repository on main: nothing to report."""
    one = agent(repo, "one", ("src/app/core.py",))
    two = agent(repo, "two", ("docs/",))
    unscoped = agent(repo, "free", ())
    write(one.path, "src/app/core.py", "CORE = 2\n")
    assert one.commit(["src/app/core.py"], "core 2")
    write(one.path, "src/app/core.py", "CORE = 3\n")  # uncommitted, in scope
    write(two.path, "docs/new.md", "new\n")
    git(two.path, "add", "docs/new.md")  # staged, in scope
    write(unscoped.path, "anything/at/all.txt", "x\n")
    assert unscoped.commit(["anything/at/all.txt"], "anything")
    write(repo, "README.md", "# demo, moved on\n")
    git(repo, "commit", "--quiet", "-am", "main moves forward")

    assert detect(repo, contexts(one, two, unscoped)) == []


def test_repository_without_agents_has_no_findings(repo: Path) -> None:
    """The CI case on a repository whose agent branches all sit on the target's tip."""
    git(repo, "branch", "agent/fresh")
    assert detect(repo) == []
    assert detect(repo, target="main") == []


def test_removed_clone_is_skipped(repo: Path) -> None:
    """A context whose clone directory is gone is legitimate (the agent was removed)."""
    gone = agent(repo, "gone")
    git(gone.path, "checkout", "--quiet", "-b", "elsewhere")  # would be P1 if it existed
    shutil.rmtree(gone.path)
    assert detect(repo, contexts(gone)) == []


# -- P1 ---------------------------------------------------------------------------------------


def test_p1_clone_on_another_branch(repo: Path) -> None:
    clone = agent(repo, "a")
    git(clone.path, "checkout", "--quiet", "-b", "feature")
    found = only(detect(repo, contexts(clone)), FailureMode.SHARED_HEAD_RACE)
    assert (found.where, found.agent) == (str(clone.path), "a")
    assert found.evidence["head_branch"] == "feature"
    assert found.evidence["branch"] == "agent/a"
    assert "agent/a" in found.message


def test_p1_clone_with_detached_head(repo: Path) -> None:
    clone = agent(repo, "a")
    head = git(clone.path, "rev-parse", "HEAD")
    git(clone.path, "checkout", "--quiet", "--detach")
    found = only(detect(repo, contexts(clone)), FailureMode.SHARED_HEAD_RACE)
    assert found.evidence["head_branch"] is None
    assert found.evidence["head"] == head
    assert "detached" in found.message


def test_p1_base_repository_switched_to_an_agent_branch(repo: Path) -> None:
    """An agent that ran `git checkout agent/x` in the shared tree."""
    git(repo, "checkout", "--quiet", "-b", "agent/x")
    found = only(detect(repo), FailureMode.SHARED_HEAD_RACE)
    assert (found.where, found.agent) == (str(repo), "x")
    assert found.evidence["head_branch"] == "agent/x"


# -- P2 ---------------------------------------------------------------------------------------


def test_p2_clone_stages_files_outside_its_scope(repo: Path) -> None:
    clone = agent(repo, "a", ("src/app/",))
    write(clone.path, "docs/guide.md", "rewritten by the wrong agent\n")
    write(clone.path, "src/app/io.py", "IO = 2\n")  # inside: fine
    git(clone.path, "add", "docs/guide.md", "src/app/io.py")
    found = only(detect(repo, contexts(clone)), FailureMode.CROSS_AGENT_STAGING)
    assert (found.where, found.agent) == (str(clone.path), "a")
    assert found.evidence["paths"] == ["docs/guide.md"]
    assert found.evidence["files_scope"] == ["src/app/"]


def test_p2_base_repository_stages_an_agents_files(repo: Path) -> None:
    clone = agent(repo, "a", ("src/app/",))
    other = agent(repo, "b", ("docs/",))
    write(repo, "src/app/core.py", "CORE = 'from the shared tree'\n")
    git(repo, "add", "src/app/core.py")
    found = only(detect(repo, contexts(clone, other)), FailureMode.CROSS_AGENT_STAGING)
    assert (found.where, found.agent) == (str(repo), "a")
    assert found.evidence["paths"] == ["src/app/core.py"]


# -- P3 ---------------------------------------------------------------------------------------


def test_p3_stash_in_a_clone_and_in_the_base_repository(repo: Path) -> None:
    clone = agent(repo, "a")
    write(clone.path, "src/app/core.py", "CORE = 'set aside'\n")
    git(clone.path, "stash", "--quiet")
    write(repo, "README.md", "# set aside too\n")
    git(repo, "stash", "--quiet")
    stashed = git(repo, "rev-parse", "refs/stash")

    found = [f for f in detect(repo, contexts(clone)) if f.code == FailureMode.WORK_LOST_ON_SWITCH]
    assert [(f.where, f.agent) for f in found] == [(str(repo), None), (str(clone.path), "a")]
    base, in_clone = found
    assert base.evidence["count"] == 1
    assert base.evidence["stashes"][0]["commit"] == stashed
    assert base.evidence["stashes"][0]["ref"] == "stash@{0}"
    assert "WIP on main" in base.evidence["stashes"][0]["message"]
    assert "agent/a" in in_clone.evidence["stashes"][0]["message"]


def test_p3_uncommitted_work_while_off_the_agent_branch(repo: Path) -> None:
    clone = agent(repo, "a")
    git(clone.path, "checkout", "--quiet", "-b", "detour")
    write(clone.path, "src/app/core.py", "CORE = 'done on the wrong branch'\n")
    write(clone.path, "src/app/new.py", "NEW = 1\n")
    findings = detect(repo, contexts(clone))
    assert sorted(codes(findings)) == [
        FailureMode.SHARED_HEAD_RACE,
        FailureMode.WORK_LOST_ON_SWITCH,
    ]
    found = only(findings, FailureMode.WORK_LOST_ON_SWITCH)
    assert found.evidence["paths"] == ["src/app/core.py", "src/app/new.py"]
    assert found.evidence["head_branch"] == "detour"


# -- P4 ---------------------------------------------------------------------------------------


def test_p4_hook_modified_files_outside_the_scope(repo: Path) -> None:
    """A formatter run by a hook touched a tracked file the agent does not own."""
    clone = agent(repo, "a", ("src/app/",))
    write(clone.path, "README.md", "# reformatted\n")
    write(clone.path, "src/app/core.py", "CORE = 2\n")  # inside: fine
    found = only(detect(repo, contexts(clone)), FailureMode.PRECOMMIT_SIDE_EFFECTS)
    assert found.evidence["paths"] == ["README.md"]
    assert found.agent == "a"


def test_p4_real_pre_commit_hook_touching_a_file_outside_the_scope(repo: Path) -> None:
    """The repository's own pre-commit hook (run behind uet's guard) rewrites README.md
    while the agent commits its own file."""
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\necho '<!-- formatted -->' >> README.md\n", encoding="utf-8")
    hook.chmod(0o755)
    clone = agent(repo, "a", ("src/app/",))
    write(clone.path, "src/app/core.py", "CORE = 2\n")
    assert clone.commit(["src/app/core.py"], "core 2")
    found = only(detect(repo, contexts(clone)), FailureMode.PRECOMMIT_SIDE_EFFECTS)
    assert found.evidence["paths"] == ["README.md"]


def test_p4_commits_outside_the_scope_are_named(repo: Path) -> None:
    """Commits made with the hooks bypassed, one of them sweeping in a file out of scope."""
    clone = agent(repo, "a", ("src/app/",))
    write(clone.path, "src/app/core.py", "CORE = 2\n")
    git(clone.path, "-c", "core.hooksPath=/dev/null", "commit", "--quiet", "-am", "in scope")
    write(clone.path, "src/app/io.py", "IO = 2\n")
    write(clone.path, "docs/guide.md", "swept in\n")
    git(clone.path, "-c", "core.hooksPath=/dev/null", "commit", "--quiet", "-am", "sweeping")
    sweeping = git(clone.path, "rev-parse", "HEAD")

    found = only(detect(repo, contexts(clone)), FailureMode.PRECOMMIT_SIDE_EFFECTS)
    assert found.evidence["commits"] == [{"commit": sweeping, "paths": ["docs/guide.md"]}]
    assert found.evidence["paths"] == ["docs/guide.md"]
    assert found.evidence["count"] == 1


def test_p4_guard_removed(repo: Path) -> None:
    clone = agent(repo, "a")
    hook = clone.path / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
    found = only(detect(repo, contexts(clone)), FailureMode.PRECOMMIT_SIDE_EFFECTS)
    assert found.evidence["hook"] == str(hook)
    hook.unlink()
    assert codes(detect(repo, contexts(clone))) == [FailureMode.PRECOMMIT_SIDE_EFFECTS]


def test_p4_hooks_path_pointed_away_from_the_guard(repo: Path) -> None:
    clone = agent(repo, "a")
    git(clone.path, "config", "core.hooksPath", "/dev/null")
    found = only(detect(repo, contexts(clone)), FailureMode.PRECOMMIT_SIDE_EFFECTS)
    assert found.evidence["hooks_path"] == "/dev/null"


# -- P5 ---------------------------------------------------------------------------------------


def make_lock(path: Path, age: float) -> Path:
    path.write_text("", encoding="utf-8")
    then = time.time() - age
    os.utime(path, (then, then))
    return path


def test_p5_stale_lock_is_reported_and_kept(repo: Path) -> None:
    clone = agent(repo, "a")
    lock = make_lock(clone.path / ".git" / "index.lock", TWO_HOURS)
    base_lock = make_lock(repo / ".git" / "refs" / "heads" / "main.lock", TWO_HOURS)
    findings = detect(repo, contexts(clone))
    assert set(codes(findings)) == {FailureMode.INDEX_LOCK_CONTENTION}
    found = list(findings)
    assert [(f.where, f.agent, f.evidence["lock"]) for f in found] == [
        (str(repo), None, str(base_lock)),
        (str(clone.path), "a", str(lock)),
    ]
    assert all(f.evidence["age_s"] >= TWO_HOURS - 60 for f in found)
    assert "rm " in found[1].message
    assert "recycle" in found[1].message
    assert lock.exists()
    assert base_lock.exists()


def test_p5_fresh_lock_is_contention_not_a_finding(repo: Path) -> None:
    clone = agent(repo, "a")
    lock = make_lock(clone.path / ".git" / "index.lock", 1.0)
    assert detect(repo, contexts(clone)) == []
    # The same lock seen two hours later is stale: ``now`` is when ages are measured from.
    later = detect(repo, contexts(clone), now=time.time() + TWO_HOURS)
    assert only(later, FailureMode.INDEX_LOCK_CONTENTION).evidence["lock"] == str(lock)
    assert lock.exists()


@contextmanager
def held_open(lock: Path) -> Iterator[subprocess.Popen[str]]:
    """A live process holding ``lock`` open, as a running git holds its index.lock."""
    code = "import sys, time; f = open(sys.argv[1]); print('open', flush=True); time.sleep(60)"
    process = subprocess.Popen(
        [sys.executable, "-c", code, str(lock)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "open"
        yield process
    finally:
        process.kill()
        process.wait()
        if process.stdout is not None:
            process.stdout.close()


def test_p5_old_lock_held_by_a_live_process_is_not_stale(repo: Path) -> None:
    clone = agent(repo, "a")
    lock = make_lock(clone.path / ".git" / "index.lock", TWO_HOURS)
    with held_open(lock) as process:
        assert detect(repo, contexts(clone)) == []
        assert process.poll() is None
    assert lock.exists()
    # Once the holder is gone, the same lock is stale.
    assert only(detect(repo, contexts(clone)), FailureMode.INDEX_LOCK_CONTENTION)


# -- P6 ---------------------------------------------------------------------------------------


def test_p6_target_rewritten_under_the_agent(repo: Path) -> None:
    """main is reset to its first commit and grows elsewhere: the agent's base is gone from
    main's history, and its branch now forks from main at that first commit."""
    clone = agent(repo, "a")
    base = clone.context.base_commit
    write(clone.path, "src/app/core.py", "CORE = 2\n")
    tip = clone.commit(["src/app/core.py"], "work")
    first = git(repo, "rev-parse", "HEAD~1")
    git(repo, "reset", "--quiet", "--hard", first)
    write(repo, "README.md", "# history rewritten\n")
    git(repo, "commit", "--quiet", "-am", "rewritten")
    rewritten = git(repo, "rev-parse", "HEAD")

    found = only(detect(repo, contexts(clone)), FailureMode.INCONSISTENT_BASE_BRANCHES)
    assert (found.where, found.agent) == (str(clone.path), "a")
    assert found.evidence == {
        "branch": "agent/a",
        "tip": tip,
        "base_commit": base,
        "target": "main",
        "target_tip": rewritten,
        "merge_base": first,
    }


def test_p6_target_replaced_by_an_unrelated_history(repo: Path) -> None:
    clone = agent(repo, "a")
    git(repo, "checkout", "--quiet", "--orphan", "fresh")
    git(repo, "commit", "--quiet", "-m", "unrelated root")
    unrelated = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "--quiet", "-B", "main", unrelated)
    found = only(detect(repo, contexts(clone)), FailureMode.INCONSISTENT_BASE_BRANCHES)
    assert found.evidence["target_tip"] == unrelated
    assert found.evidence["merge_base"] is None


def test_p6_branch_no_longer_contains_its_recorded_base(repo: Path) -> None:
    clone = agent(repo, "a")
    git(clone.path, "reset", "--quiet", "--hard", "HEAD~1")
    write(clone.path, "src/app/core.py", "CORE = 'off an older base'\n")
    git(clone.path, "commit", "--quiet", "-am", "work on the wrong base")
    found = only(detect(repo, contexts(clone)), FailureMode.INCONSISTENT_BASE_BRANCHES)
    assert found.evidence["base_commit"] == clone.context.base_commit
    assert found.evidence["tip"] == git(clone.path, "rev-parse", "HEAD")
    assert "recorded base" in found.message


def test_p6_target_override_and_missing_target(repo: Path) -> None:
    """``target`` replaces each agent's recorded target; one that does not exist is said."""
    clone = agent(repo, "a")
    found = only(
        detect(repo, contexts(clone), target="release"), FailureMode.INCONSISTENT_BASE_BRANCHES
    )
    assert found.evidence["target"] == "release"
    assert found.evidence["target_tip"] is None
    git(repo, "branch", "release")
    assert detect(repo, contexts(clone), target="release") == []


def test_p6_ci_agent_branches_not_on_the_target_tip(repo: Path) -> None:
    """Without agent contexts: agent/* branches, local and remote-tracking, must contain the
    target's tip; one already merged into it is left alone."""
    old = git(repo, "rev-parse", "HEAD~1")
    git(repo, "branch", "agent/stale", old)
    git(repo, "branch", "agent/merged", old)
    git(repo, "branch", "agent/current")
    git(repo, "branch", "feature/other", old)  # not an agent branch
    git(repo, "checkout", "--quiet", "-b", "work", old)
    write(repo, "docs/guide.md", "diverged\n")
    git(repo, "commit", "--quiet", "-am", "diverged")
    diverged = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "--quiet", "main")
    git(repo, "update-ref", "refs/remotes/origin/agent/remote", diverged)
    git(repo, "update-ref", "refs/remotes/origin/main", old)
    git(repo, "update-ref", "refs/heads/agent/stale", diverged)
    main = git(repo, "rev-parse", "main")

    findings = detect(repo)
    assert codes(findings) == [FailureMode.INCONSISTENT_BASE_BRANCHES] * 2
    assert [(f.agent, f.evidence["ref"]) for f in findings] == [
        ("remote", "refs/remotes/origin/agent/remote"),
        ("stale", "refs/heads/agent/stale"),
    ]
    for found in findings:
        assert found.where == str(repo)
        assert found.evidence["target_tip"] == main
        assert found.evidence["merge_base"] == old
    # Against the old tip every agent branch is up to date.
    assert detect(repo, target="origin/main") == []


def test_detect_changes_nothing(repo: Path) -> None:
    """Refs, index and files of the base repository and the clone are as they were, even
    when the target was rewritten (no fetch) and a stale lock lies around (not removed)."""
    clone = agent(repo, "a")
    write(clone.path, "src/app/core.py", "CORE = 2\n")
    clone.commit(["src/app/core.py"], "work")
    git(repo, "reset", "--quiet", "--hard", "HEAD~1")
    make_lock(clone.path / ".git" / "index.lock", TWO_HOURS)

    def snapshot(root: Path) -> dict[str, float]:
        return {str(p.relative_to(root)): p.stat().st_mtime for p in root.rglob("*")}

    before = (snapshot(repo), git(repo, "for-each-ref"), git(clone.path, "for-each-ref"))
    assert {f.code for f in detect(repo, contexts(clone))} == {
        FailureMode.INDEX_LOCK_CONTENTION,
        FailureMode.INCONSISTENT_BASE_BRANCHES,
    }
    assert (snapshot(repo), git(repo, "for-each-ref"), git(clone.path, "for-each-ref")) == before


# -- the API ----------------------------------------------------------------------------------


def test_findings_are_sorted_frozen_values(repo: Path) -> None:
    clone = agent(repo, "a")
    git(clone.path, "checkout", "--quiet", "-b", "detour")
    write(clone.path, "README.md", "# out of scope\n")
    git(clone.path, "add", "README.md")
    git(repo, "checkout", "--quiet", "-b", "agent/a")
    findings = detect(repo, contexts(clone))
    assert [(f.code, f.where) for f in findings] == sorted((f.code, f.where) for f in findings)
    assert set(codes(findings)) == {
        "P1_SHARED_HEAD_RACE",
        "P2_CROSS_AGENT_STAGING",
        "P3_WORK_LOST_ON_SWITCH",
    }
    with pytest.raises(FrozenInstanceError):
        findings[0].code = "changed"  # type: ignore[misc]
    assert [mode.value for mode in FailureMode] == [
        "P1_SHARED_HEAD_RACE",
        "P2_CROSS_AGENT_STAGING",
        "P3_WORK_LOST_ON_SWITCH",
        "P4_PRECOMMIT_SIDE_EFFECTS",
        "P5_INDEX_LOCK_CONTENTION",
        "P6_INCONSISTENT_BASE_BRANCHES",
    ]

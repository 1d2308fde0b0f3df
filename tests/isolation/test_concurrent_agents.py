"""Eight agents committing at once, then merged through the queue: the issue's acceptance run.

In one shared working tree the same load fails most git operations and commits files under
the wrong agent (bench/agents.py --shared-tree shows it); in clones nothing may fail.
"""

from __future__ import annotations

import threading
from pathlib import Path

from tests.isolation.gitrepo import git, make_repo, write
from uet.agents import AgentManager
from uet.isolation.merge import MergeStatus
from uet.state.store import Store

AGENTS = 8
COMMITS = 25


def test_eight_agents_times_25_commits_then_merged_lose_nothing_and_mix_nothing(
    tmp_path: Path,
) -> None:
    repo = make_repo(tmp_path / "repo")
    store = Store.open(f"sqlite:///{tmp_path / 'state.db'}")
    manager = AgentManager(store, home=repo / ".uet")
    ids = [f"agent-{n}" for n in range(AGENTS)]
    for agent_id in ids:
        manager.create(agent_id, repo=repo, files_scope=[f"work/{agent_id}/"])
    errors: list[BaseException] = []
    start = threading.Barrier(AGENTS)

    def work(agent_id: str) -> None:
        clone = manager.clone(agent_id)
        start.wait()
        try:
            for n in range(COMMITS):
                name = f"work/{agent_id}/file-{n}.txt"
                write(clone.path, {name: f"{agent_id} {n}\n"})
                if clone.commit([name], f"{agent_id}: {n}") is None:
                    raise AssertionError(f"{agent_id}: commit {n} made nothing")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(agent_id,)) for agent_id in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []

    results = manager.merge(ids, gate="test -d work")
    assert [r.status for r in results] == [MergeStatus.MERGED] * AGENTS
    assert sum(r.rebased for r in results) == AGENTS - 1  # each merge moved the target

    # Every commit is on main, authored by its agent, touching only that agent's files.
    log = git(repo, "log", "--format=%x00%an%x09%s", "--name-only", "main", "^main~200")
    commits = [
        [line for line in entry.split("\n") if line] for entry in log.split("\0") if entry.strip()
    ]
    assert len(commits) == AGENTS * COMMITS
    for header, *files in commits:
        author, subject = header.split("\t")
        agent_id = subject.split(":")[0]
        assert author == f"uet agent {agent_id}"
        assert files == [f"work/{agent_id}/file-{subject.split(': ')[1]}.txt"]
    assert git(repo, "rev-list", "--count", "main") == str(AGENTS * COMMITS + 1)
    git(repo, "fsck", "--strict", "--no-dangling")
    for agent_id in ids:
        git(Path(manager.get(agent_id).path), "fsck", "--strict", "--no-dangling")
    assert git(repo, "status", "--porcelain") == ""
    store.close()

"""``AgentManager``: the lifecycle of agent clones, with every change in the store.

    manager = AgentManager(store, home=settings.home)
    agent = manager.create("a1", repo=Path("."), files_scope=["src/app/"])
    outcome = manager.exec("a1", ["aider", "--yes", "--message", "…"])
    manager.commit("a1", ["src/app/io.py"], "Validate input")      # explicit paths only
    results = manager.merge(["a1"], gate="pytest -q")              # the gated merge queue
    manager.cleanup(["a1"])                                        # refuses to lose work

Each state change (created, merged or refused, removed) is one transaction holding the
agent's row, its event (``agent.created|merged|merge_refused|removed``) and, for merges, the
decision with its reason; the bus, when given, delivers the committed events to subscribers.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from uet import defaults
from uet.contain.paths import inside, make_dirs
from uet.contain.rules import Allowances
from uet.errors import UsageError
from uet.events.bus import EventBus
from uet.execution import Job, Outcome, OutputSink, run_job
from uet.isolation.clones import (
    ARCHIVE_PREFIX,
    AgentBusyError,
    AgentClone,
    AgentContext,
    archive_work,
    check_agent_id,
    create_clone,
    unmerged_commits,
)
from uet.isolation.detect import Finding, detect
from uet.isolation.git import Git, StaleLockError, without_git_redirections
from uet.isolation.merge import (
    Gate,
    GateResult,
    MergeResult,
    MergeStatus,
    merge_agent,
    merge_lock,
    merge_order,
)
from uet.project import ignore_home
from uet.scope import FileScope, ProtectedPaths
from uet.state.records import AgentRecord, DecisionRecord
from uet.state.store import NewEvent, Store, Transaction
from uet.states import AttemptState

ACTIVE = "active"
MERGED = "merged"
REMOVED = "removed"

OutputCallback = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class CleanupResult:
    agent: str
    removed: bool
    reason: str
    archive_ref: str | None = None  # where its unmerged work was kept, when there was any


class AgentManager:
    """Agent clones of one project: clones under ``<home>/agents/``, records in ``store``."""

    def __init__(
        self,
        store: Store,
        *,
        home: Path,
        bus: EventBus | None = None,
        now: Callable[[], float] = time.time,
        protected_paths: Sequence[str] = defaults.PROTECTED_PATHS,
        run_id: str | None = None,
        task_id: str | None = None,
    ) -> None:
        self.store = store
        # the run and task it works for (the agent runner's): its agent.* events carry them
        self.run_id = run_id
        self.task_id = task_id
        self.home = Path(home).absolute()
        self.agents_dir = self.home / "agents"
        self.bus = bus
        self._now = now
        self.protected = ProtectedPaths(protected_paths)  # checked again by every merge
        self._pending: list[tuple[NewEvent, int | None]] = []  # events of the open change

    # -- reading ----------------------------------------------------------------------------

    def get(self, agent_id: str) -> AgentRecord:
        """The agent's record; UsageError when no live agent has this id."""
        with self.store.reader() as tx:
            agent = tx.get_agent(agent_id)
        if agent is None or agent.status == REMOVED:
            raise UsageError(f"no agent {agent_id!r} (see `uet agents list`)")
        return agent

    def list_agents(self, *, include_removed: bool = False) -> list[AgentRecord]:
        with self.store.reader() as tx:
            return tx.list_agents(None if include_removed else (ACTIVE, MERGED))

    def clone(self, agent_id: str) -> AgentClone:
        agent = self.get(agent_id)
        if not Path(agent.path, ".git").is_dir():
            raise UsageError(
                f"agent {agent_id!r}: its clone {agent.path} is gone; "
                f"`uet agents cleanup {agent_id}` forgets it"
            )
        return AgentClone.open(Path(agent.path))

    # -- lifecycle ---------------------------------------------------------------------------

    def create(
        self,
        agent_id: str,
        *,
        repo: Path,
        base: str | None = None,
        target: str | None = None,
        files_scope: Sequence[str] = (),
        depends_on: Sequence[str] = (),
        author: str | None = None,
        sparse: Sequence[str] = (),
        allowances: Allowances | None = None,
    ) -> AgentRecord:
        """Clone ``repo`` for a new agent; nothing is left behind when any step fails.
        ``allowances``: what the content rules let its changes contain (checked again by
        every merge)."""
        check_agent_id(agent_id)
        try:
            FileScope(files_scope)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        with self.store.reader() as tx:
            existing = tx.get_agent(agent_id)
            known = {a.id for a in tx.list_agents((ACTIVE, MERGED))}
        if existing is not None and existing.status != REMOVED:
            raise UsageError(
                f"agent {agent_id!r} already exists ({existing.status}, {existing.path}); "
                f"`uet agents cleanup {agent_id}` first"
            )
        missing = [d for d in depends_on if d not in known]
        if missing:
            raise UsageError(f"agent {agent_id!r} depends on unknown agents: {missing}")
        ignore_home(self.home)  # the clones live there: keep them out of the repo's status
        inside(self.home, self.agents_dir / agent_id)  # a planted link cannot move the clone
        clone = create_clone(
            Path(repo),
            self.agents_dir / agent_id,
            agent_id,
            base=base,
            target=target,
            files_scope=files_scope,
            depends_on=depends_on,
            author=author,
            sparse=sparse,
            now=self._now(),
            allowances=allowances,
        )
        record = _record(clone.context, ACTIVE)
        try:
            with self._changes() as tx:
                tx.put_agent(record)
                self._event(tx, "agent.created", record, {"base": record.base_commit})
        except BaseException:
            shutil.rmtree(clone.path, ignore_errors=True)
            raise
        return record

    def exec(
        self,
        agent_id: str,
        argv: Sequence[str],
        *,
        timeout: float | None = None,
        on_output: OutputCallback | None = None,
    ) -> Outcome:
        """Run ``argv`` inside the agent's clone, in its own process group; commit nothing."""
        if not argv:
            raise UsageError("exec: give the command to run after --")
        clone = self.clone(agent_id)
        env = without_git_redirections()
        env.update(
            UET_AGENT_ID=agent_id,
            UET_AGENT_BRANCH=clone.context.branch,
            UET_AGENT_BASE=clone.context.base_commit,
            UET_NON_INTERACTIVE="1",
            NON_INTERACTIVE="1",
        )
        job = Job(
            attempt_id=1,
            key=f"agent {agent_id}",
            argv=list(argv),
            cwd=clone.path,
            env=env,
            timeout=timeout,
            log_path=self._log_path(agent_id, "exec"),
        )
        with clone.occupied("run the command"):
            return run_job(job, _lines_to(on_output))

    def commit(self, agent_id: str, paths: Sequence[str], message: str) -> str | None:
        """Commit exactly ``paths`` in the agent's clone; the new commit, or None if no change.

        A stale lock in the clone (a git that crashed there) is not deleted: the clone is
        recycled (:meth:`recycle`, the work carried over) and the commit made in the new one.
        """
        clone = self.clone(agent_id)
        try:
            with clone.occupied("commit"):
                return clone.commit(paths, message)
        except StaleLockError as stale:
            if not stale.lock.is_relative_to(clone.path):
                raise
            self.recycle(agent_id)
            return self.clone(agent_id).commit(paths, message)

    def merge(
        self,
        agent_ids: Sequence[str],
        *,
        into: str | None = None,
        gate: str | None = None,
        gate_timeout: float | None = None,
        on_output: OutputCallback | None = None,
        on_wait: Callable[[], None] | None = None,
        run_id: str | None = None,
        task_id: str | None = None,
    ) -> list[MergeResult]:
        """Merge the agents' branches one at a time, in dependency order (see
        :mod:`uet.isolation.merge`); every result is recorded as a ``merge`` decision (of
        ``run_id``/``task_id`` when a run's task asked for it)."""
        clones = {agent_id: self.clone(agent_id) for agent_id in dict.fromkeys(agent_ids)}
        order = merge_order([clone.context for clone in clones.values()])
        self._decide(
            "merge_order",
            " -> ".join(c.id for c in order),
            "dependency order (depends_on), then the order given",
            alternatives=list(clones),
            data={"given": list(clones)},
        )
        runner = None if gate is None else self._gate(gate, gate_timeout, on_output)
        results: list[MergeResult] = []
        settled: dict[str, bool] = {}
        for context in order:
            clone = clones[context.id]
            blocker = self._blocker(context, settled)
            if blocker is not None:
                result = MergeResult(
                    context.id, MergeStatus.REFUSED, "blocked", blocker, into or context.target
                )
            else:
                result = self._merge_one(clone, into, runner, on_wait)
            settled[context.id] = result.ok
            self._record_merge(clone, result, run_id, task_id)
            results.append(result)
        return results

    def cleanup(
        self,
        agent_ids: Iterable[str] = (),
        *,
        merged: bool = False,
        force: bool = False,
    ) -> list[CleanupResult]:
        """Remove agents' clones. Refuses one with unmerged commits or uncommitted changes
        unless ``force``; even then its work is first kept in ``refs/uet/archive/<id>`` of the
        base repository. ``merged`` selects every merged agent with nothing left to keep."""
        wanted = list(dict.fromkeys(agent_ids))
        if merged:
            wanted += [
                a.id for a in self.list_agents() if a.status == MERGED and a.id not in wanted
            ]
        if not wanted:
            raise UsageError("cleanup: name the agents, or pass --merged")
        return [self._cleanup_one(self.get(agent_id), force=force) for agent_id in wanted]

    def recycle(self, agent_id: str) -> AgentRecord:
        """Replace a broken clone (a stale lock, a corrupt index) by a fresh one on the same
        branch tip, with the same uncommitted work in its working tree. The old clone's work
        is archived first (``refs/uet/archive/<id>``) and the old directory is kept under
        ``<home>/agents/.recycled/``: nothing is deleted, not even the stale lock."""
        agent = self.get(agent_id)
        old = AgentClone.open(Path(agent.path))
        base = Git(Path(agent.repo))
        kept = _unused(self.agents_dir / ".recycled" / f"{agent_id}-{int(self._now())}")
        with old.occupied("recycle it"):
            archive = archive_work(old, base, reason="recycled")
            tip = old.branch_tip() or agent.base_commit
            kept.parent.mkdir(parents=True, exist_ok=True)
            os.replace(old.path, kept)
        try:
            fresh = create_clone(
                Path(agent.repo),
                Path(agent.path),
                agent_id,
                base=agent.base_commit,
                target=agent.target,
                files_scope=agent.files_scope,
                depends_on=agent.depends_on,
                author=old.context.author or None,
                sparse=old.context.sparse,
                now=agent.created_at,
                allowances=old.context.allowances,
            )
        except BaseException:
            os.replace(kept, old.path)  # put it back as it was
            raise
        fresh.take_over(kept, tip, archive)
        fresh.context = replace(fresh.context, base_ref=agent.base_ref)
        fresh.save_context()
        with self._changes() as tx:
            archive_ref = ARCHIVE_PREFIX + agent_id if archive else agent.archive_ref
            tx.update_agent(agent_id, updated_at=self._now(), archive_ref=archive_ref)
            self._event(tx, "agent.recycled", agent, {"kept": str(kept), "archive": archive})
        return self.get(agent_id)

    def check(self, repo: Path, *, target: str | None = None) -> list[Finding]:
        """Findings of the failure-mode detectors on ``repo`` and its live agents."""
        top = Path(repo).resolve()
        contexts = [
            AgentClone.open(Path(a.path)).context
            for a in self.list_agents()
            if Path(a.repo) == top and Path(a.path, ".git").is_dir()
        ]
        return detect(top, contexts, target=target)

    # -- helpers -----------------------------------------------------------------------------

    def _blocker(self, context: AgentContext, settled: dict[str, bool]) -> str | None:
        for needed in context.depends_on:
            if needed in settled:
                if not settled[needed]:
                    return f"depends on agent {needed!r}, which was not merged"
                continue
            with self.store.reader() as tx:
                other = tx.get_agent(needed)
            if other is None or other.status != MERGED:
                return f"depends on agent {needed!r}, which is not merged yet (merge it first)"
        return None

    def _merge_one(
        self,
        clone: AgentClone,
        into: str | None,
        runner: Gate | None,
        on_wait: Callable[[], None] | None,
    ) -> MergeResult:
        base = Git(Path(clone.context.repo))
        try:
            with clone.occupied("merge again"), merge_lock(base, on_wait=on_wait):
                return merge_agent(
                    clone,
                    base,
                    target=into,
                    gate=runner,
                    workdir=self.agents_dir / ".gates",
                    protected=self.protected,
                )
        except AgentBusyError as busy:
            target = into or clone.context.target
            return MergeResult(clone.id, MergeStatus.REFUSED, "busy", str(busy), target)

    def _gate(self, command: str, timeout: float | None, on_output: OutputCallback | None) -> Gate:
        def run(checkout: Path, context: AgentContext) -> GateResult:
            env = without_git_redirections()
            env.update(UET_AGENT_ID=context.id, UET_NON_INTERACTIVE="1", NON_INTERACTIVE="1")
            job = Job(
                attempt_id=1,
                key=f"gate of {context.id}",
                shell=command,
                cwd=checkout,
                env=env,
                timeout=timeout,
                log_path=self._log_path(context.id, "gate"),
            )
            outcome = run_job(job, _lines_to(on_output))
            detail = outcome.error or ""
            if outcome.state is AttemptState.TIMED_OUT:
                detail = f"timed out after {timeout} s"
            return GateResult(
                command=command,
                ok=outcome.state is AttemptState.SUCCEEDED,
                exit_code=outcome.exit_code,
                duration=outcome.ended_at - (outcome.started_at or outcome.ended_at),
                output_tail=outcome.output_tail,
                detail=detail,
            )

        return run

    def _record_merge(
        self, clone: AgentClone, result: MergeResult, run_id: str | None, task_id: str | None
    ) -> None:
        data: dict[str, Any] = {
            "agent": result.agent,
            "code": result.code,
            "target": result.target,
            "before": result.before,
            "after": result.after,
            "tip": result.tip,
            "rebased": result.rebased,
            "files": result.files[:200],
        }
        if result.gate is not None:
            data["gate"] = {
                "command": result.gate.command,
                "ok": result.gate.ok,
                "exit_code": result.gate.exit_code,
                "duration": round(result.gate.duration, 3),
                "detail": result.gate.detail,
                "output_tail": result.gate.output_tail[-1000:],
            }
        now = self._now()
        content = [
            {"path": v.path, "rule": v.rule.value, "detail": v.detail} for v in result.violations
        ]
        if content:
            data["content"] = content[:200]
        with self._changes() as tx:
            agent = tx.get_agent(result.agent)
            if content:  # the content rules refused it: a scope decision, as a task's would be
                tx.record_decisions(
                    [
                        DecisionRecord(
                            category="scope",
                            chosen="rejected",
                            reason=result.reason,
                            ts=now,
                            run_id=run_id,
                            task_id=task_id,
                            alternatives=["accepted", "rejected"],
                            data={
                                "agent": result.agent,
                                "content": content[:200],
                                "rules": sorted({c["rule"] for c in content}),
                            },
                        )
                    ]
                )
            tx.record_decisions(
                [
                    DecisionRecord(
                        category="merge",
                        chosen=f"{result.status.value}: {result.agent}",
                        reason=result.reason,
                        ts=now,
                        run_id=run_id,
                        task_id=task_id,
                        alternatives=["merged", "refused"],
                        data=data,
                    )
                ]
            )
            if agent is None:
                return
            if result.status is MergeStatus.REFUSED:
                self._event(tx, "agent.merge_refused", agent, data, run_id=run_id, task_id=task_id)
                return
            tx.update_agent(
                result.agent,
                status=MERGED,
                merged_commit=result.after,
                base_commit=clone.context.base_commit,
                updated_at=now,
            )
            if result.status is MergeStatus.MERGED:
                self._event(tx, "agent.merged", agent, data, run_id=run_id, task_id=task_id)

    def _cleanup_one(self, agent: AgentRecord, *, force: bool) -> CleanupResult:
        path = Path(agent.path)
        archive = None
        if Path(path, ".git").is_dir():
            clone = AgentClone.open(path)
            base = Git(Path(agent.repo))
            with clone.occupied("clean up"):
                state = clone.state()
                unmerged = unmerged_commits(clone, base)
                at_risk = []
                if unmerged:
                    at_risk.append(f"{unmerged} unmerged commit(s) on {agent.branch}")
                if state.changed:
                    at_risk.append(f"uncommitted changes in {len(state.changed)} path(s)")
                if at_risk and not force:
                    return CleanupResult(
                        agent.id,
                        removed=False,
                        reason=f"kept: {' and '.join(at_risk)}; merge them, or --force to "
                        f"archive them under {ARCHIVE_PREFIX}{agent.id} and remove the clone",
                    )
                if at_risk:
                    archive = archive_work(clone, base, reason="cleanup --force", unmerged=unmerged)
                shutil.rmtree(path)
        reason = "removed" if archive is None else f"removed; its work is kept in {archive}"
        archive_ref = ARCHIVE_PREFIX + agent.id if archive else agent.archive_ref
        with self._changes() as tx:
            tx.update_agent(
                agent.id, status=REMOVED, updated_at=self._now(), archive_ref=archive_ref
            )
            self._event(tx, "agent.removed", agent, {"archive": archive})
        return CleanupResult(agent.id, removed=True, reason=reason, archive_ref=archive_ref)

    def _decide(
        self,
        category: str,
        chosen: str,
        reason: str,
        *,
        alternatives: list[Any],
        data: dict[str, Any],
    ) -> None:
        with self._changes() as tx:
            tx.record_decisions(
                [
                    DecisionRecord(
                        category, chosen, reason, self._now(), None, None, alternatives, data
                    )
                ]
            )

    @contextmanager
    def _changes(self) -> Iterator[Transaction]:
        """A write transaction whose events reach the bus's subscribers once committed."""
        pending: list[tuple[NewEvent, int | None]] = []
        self._pending = pending
        with self.store.transaction() as tx:
            yield tx
        if self.bus is not None:
            for event, seq in pending:
                self.bus.deliver_committed([event], [seq])

    def _event(
        self,
        tx: Transaction,
        type_: str,
        agent: AgentRecord,
        payload: dict[str, Any],
        *,
        run_id: str | None = None,
        task_id: str | None = None,
    ) -> None:
        """An ``agent.*`` event; with the run and task it came from, when it came from one."""
        body = {"agent": agent.id, **payload}
        run_id, task_id = run_id or self.run_id, task_id or self.task_id
        event: NewEvent = (type_, self._now(), run_id, task_id, None, body)
        [seq] = tx.insert_events([event])
        self._pending.append((event, seq))

    def _log_path(self, agent_id: str, what: str) -> Path:
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(self._now()))
        folder = make_dirs(self.home, self.home / "logs" / "agents" / agent_id)
        return folder / f"{what}-{stamp}-{os.getpid()}.log"


def _lines_to(on_output: OutputCallback | None) -> OutputSink:
    """An executor sink handing each line to ``on_output`` (or dropping them)."""

    def sink(attempt_id: int, lines: Sequence[str]) -> None:
        if on_output is not None:
            for line in lines:
                on_output(line)

    return sink


def _unused(path: Path) -> Path:
    """``path``, or ``path-2``, ``path-3``… whichever does not exist yet."""
    candidate, n = path, 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}-{n}")
    return candidate


def _record(context: AgentContext, status: str) -> AgentRecord:
    return AgentRecord(
        id=context.id,
        status=status,
        repo=context.repo,
        path=context.path,
        branch=context.branch,
        base_ref=context.base_ref,
        base_commit=context.base_commit,
        target=context.target,
        created_at=context.created_at,
        updated_at=context.created_at,
        files_scope=list(context.files_scope),
        depends_on=list(context.depends_on),
    )

"""Starting work: ready tasks become attempts (recorded ``dispatched`` in the tick) and jobs,
through one launcher per kind of task — a command, or a tool task run by the agent runner."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

from uet import defaults
from uet.contain.env import SECRET_NAME
from uet.contain.paths import make_dirs
from uet.engine.run.book import AttemptBook
from uet.engine.run.settle import Settler
from uet.engine.run.tick import Tick
from uet.engine.scheduler import Scheduler
from uet.engine.tooltasks import Choice, ToolTasks
from uet.execution.api import Finished, Job, Outcome, Stdio
from uet.spec.planned import PlannedTask
from uet.state.records import AttemptRecord, TaskUpdate
from uet.state.store import Transaction
from uet.states import AttemptState, TaskStatus

TOOL_TASKS_UNAVAILABLE = "tool tasks need tool profiles and a router (see docs/tools.md)"


class Launcher(Protocol):
    """Turns one attempt of a task into the job that runs it."""

    def choose(self, tick: Tick, task: PlannedTask, now: float) -> Choice | None:
        """The tool of the attempt (None: the task needs none)."""
        ...

    def job(
        self,
        task: PlannedTask,
        *,
        attempt_id: int,
        number: int,
        env: dict[str, str],
        log_path: Path,
        tool: str,
        mask: Sequence[str] = (),
    ) -> Job: ...


class CommandLauncher:
    """``run:`` and ``argv:`` tasks: the command itself, in the task's cwd; ``stdio`` is
    where their streams go (``uet exec``: passed through, or the terminal with ``--tty``);
    an ``interactive: true`` task gets the terminal whatever the run says."""

    def __init__(
        self, root: Path, stdio: Stdio = Stdio.NULL, kill_grace: float = defaults.KILL_GRACE_S
    ) -> None:
        self.root = root
        self.stdio = stdio
        self.kill_grace = kill_grace

    def choose(self, tick: Tick, task: PlannedTask, now: float) -> Choice | None:
        return None

    def job(
        self,
        task: PlannedTask,
        *,
        attempt_id: int,
        number: int,
        env: dict[str, str],
        log_path: Path,
        tool: str,
        mask: Sequence[str] = (),
    ) -> Job:
        return Job(
            attempt_id=attempt_id,
            key=task.key,
            argv=task.spec.argv,
            shell=task.spec.run,
            cwd=self.root / task.cwd if task.cwd else self.root,
            env=env,
            timeout=task.timeout,
            kill_grace=self.kill_grace,
            log_path=log_path,
            mask=mask,
            keep_background=task.spec.keep_background,
            stdio=Stdio.TERMINAL if task.interactive else self.stdio,
        )


class ToolLauncher:
    """``tool:`` tasks: the router (or the task) picks the tool; the agent runner runs it."""

    def __init__(
        self,
        tool_tasks: ToolTasks | None,
        settler: Settler,
        root: Path,
        kill_grace: float = defaults.KILL_GRACE_S,
    ) -> None:
        self.tool_tasks = tool_tasks
        self.settler = settler
        self.root = root
        self.kill_grace = kill_grace

    def choose(self, tick: Tick, task: PlannedTask, now: float) -> Choice:
        """The tool for ``task``'s next attempt; without one, the reason is its error."""
        if self.tool_tasks is None:
            return Choice(None, TOOL_TASKS_UNAVAILABLE)
        tick.decisions.extend(self.tool_tasks.notices(now))  # the sandbox, once per run
        choice = self.tool_tasks.choose(task, now)
        if choice.record is not None:
            tick.decisions.append(choice.record)
        self.settler.breaker_events(tick, choice.transitions, task.key, None)
        tick.event("route.decided", choice.payload, task=task.key)
        if choice.tool is None:
            return Choice(None, f"no tool can take it: {choice.reason}")
        return choice

    def job(
        self,
        task: PlannedTask,
        *,
        attempt_id: int,
        number: int,
        env: dict[str, str],
        log_path: Path,
        tool: str,
        mask: Sequence[str] = (),
    ) -> Job:
        assert self.tool_tasks is not None  # noqa: S101 - no tool was chosen without it
        return Job(
            attempt_id=attempt_id,
            key=task.key,
            argv=self.tool_tasks.job_argv(task, attempt_id, number, tool),
            cwd=self.root,
            env={**env, "UET_TOOL": tool},
            timeout=self.tool_tasks.timeout(task, tool),
            kill_grace=self.kill_grace,
            log_path=log_path,
            mask=mask,
        )


class Dispatcher:
    """Takes ready tasks from the scheduler and records and launches their attempts."""

    def __init__(
        self,
        *,
        book: AttemptBook,
        scheduler: Scheduler,
        run_id: str,
        logs: Path,
        base_env: Mapping[str, str],
        commands: Launcher,
        tools: Launcher,
        secrets: Sequence[str] = (),
    ) -> None:
        self.book = book
        self.scheduler = scheduler
        self.run_id = run_id
        self.logs = logs
        self.base_env = dict(base_env)
        self.commands = commands
        self.tools = tools
        self.secrets = tuple(secrets)

    def dispatch(self, tx: Transaction, tick: Tick, now: float) -> list[Job]:
        ready = self.scheduler.take()
        if not ready:
            return []
        book = self.book
        numbers = [book.next_number(t.key) for t in ready]
        launchers = [self._launcher(t) for t in ready]
        choices = [
            launcher.choose(tick, t, now) for launcher, t in zip(launchers, ready, strict=True)
        ]
        ids = tx.dispatch_attempts(
            [
                AttemptRecord(
                    id=0,
                    run_id=self.run_id,
                    task_id=task.key,
                    number=number,
                    state=AttemptState.DISPATCHED,
                    dispatched_at=now,
                    tool=(choice.tool if choice is not None else None) or task.spec.tool,
                )
                for task, number, choice in zip(ready, numbers, choices, strict=True)
            ]
        )
        jobs = []
        for task, number, attempt_id, launcher, choice in zip(
            ready, numbers, ids, launchers, choices, strict=True
        ):
            book.opened(attempt_id, task.key, number)
            tick.event("task.started", {"attempt": number}, task=task.key, attempt=attempt_id)
            tick.updates.append(
                TaskUpdate(
                    task.key,
                    TaskStatus.RUNNING,
                    attempts_used=book.used[task.key] + 1,
                    started_at=now if number == 1 else None,
                )
            )
            if choice is not None and choice.tool is None:  # no tool can take it: the reason
                outcome = Outcome(AttemptState.ERROR, None, now, error=choice.reason)
                book.immediate.append(Finished(attempt_id, outcome))
                continue
            env = self._env(task, number, terminal=self._terminal(task))
            log_path = self._log_path(task, number)
            tool = "" if choice is None or choice.tool is None else choice.tool
            jobs.append(
                launcher.job(
                    task,
                    attempt_id=attempt_id,
                    number=number,
                    env=env,
                    log_path=log_path,
                    tool=tool,
                    mask=self._mask(task),
                )
            )
        return jobs

    def _launcher(self, task: PlannedTask) -> Launcher:
        return self.commands if task.spec.tool is None else self.tools

    def _terminal(self, task: PlannedTask) -> bool:
        """Whether the task runs with uet's terminal (no non-interactive environment)."""
        if task.spec.tool is not None:
            return False
        stdio = getattr(self.commands, "stdio", Stdio.NULL)
        return task.interactive or stdio is Stdio.TERMINAL

    def _env(self, task: PlannedTask, number: int, *, terminal: bool) -> dict[str, str]:
        """uet's environment, then ``NON_INTERACTIVE_ENV`` (not for a terminal task), then
        the workstream's and the task's ``env:`` (they win), then the attempt's marker."""
        return {
            **self.base_env,
            **({} if terminal else defaults.NON_INTERACTIVE_ENV),
            **task.env,
            "UET_RUN_ID": self.run_id,
            "UET_TASK_ID": task.key,
            "UET_ATTEMPT": str(number),
        }

    def _mask(self, task: PlannedTask) -> Sequence[str]:
        """The secrets masked in the task's output: the run's, and its own ``env:`` values
        named like a secret."""
        own = [value for name, value in task.env.items() if SECRET_NAME.search(name)]
        return (*self.secrets, *own) if own else self.secrets

    def _log_path(self, task: PlannedTask, number: int) -> Path:
        log_path = self.logs / f"{task.key}.log"  # = model.log_path(...), folder made once
        if number > 1:
            make_dirs(self.logs, log_path.parent)
            fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o644)
            with os.fdopen(fd, "a", encoding="utf-8") as log:
                log.write(f"\n--- uet: attempt {number} ---\n")
        return log_path

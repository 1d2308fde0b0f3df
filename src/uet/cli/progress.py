"""Run progress for people: a live line on a terminal; failures as they happen; one line per
task only when asked (``-v``), since printing a line costs more than a trivial task.

Off a terminal the same lines are printed by :class:`LineProgress` through ``click.echo``:
rich (~0.05 s to import) is loaded only for the live line of a terminal."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import click

from uet.states import TaskStatus

if TYPE_CHECKING:
    from rich.console import Console
    from rich.live import Live
    from rich.text import Text

_MARKS = {
    TaskStatus.SUCCEEDED: ("ok", "green"),
    TaskStatus.FAILED: ("FAILED", "red"),
    TaskStatus.SKIPPED: ("skipped", "yellow"),
    TaskStatus.CANCELED: ("canceled", "yellow"),
}


class ConsoleProgress:
    """Implements ``uet.engine.progress.Progress`` for the command line."""

    def __init__(self, console: Console, *, verbose: bool = False) -> None:
        self.console = console
        self.verbose = verbose
        self.live: Live | None = None
        self.total = 0
        self.running: dict[str, None] = {}  # insertion-ordered set
        self.counts: Mapping[TaskStatus, int] = {}
        self.started_at = time.monotonic()

    def started(self, run_id: str, total: int) -> None:
        self.total = total
        self.started_at = time.monotonic()
        self.console.print(f"run {run_id}: {total} tasks", style="bold", highlight=False)
        if self.console.is_terminal:
            from rich.live import Live  # noqa: PLC0415 - see the module docstring

            # Live renders this object (``__rich__``) at its own pace; ticks only update state.
            self.live = Live(self, console=self.console, refresh_per_second=8, transient=True)
            self.live.start()

    def tick(self, counts: Mapping[TaskStatus, int], dispatched: Sequence[str]) -> None:
        self.counts = dict(counts)  # a snapshot: Live's thread reads it while we go on
        for key in dispatched:
            self.running[key] = None

    def task_done(self, key: str, status: TaskStatus) -> None:
        self.running.pop(key, None)
        if not self.verbose and status is not TaskStatus.FAILED:
            return
        from rich.text import Text  # noqa: PLC0415 - see the module docstring

        word, style = _MARKS.get(status, (status.value, "white"))
        self.console.print(Text.assemble((f"{word:>8} ", style), key))

    def stop(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None

    def __rich__(self) -> Text:
        """The live line, built when Live draws (8 times a second), not on every tick."""
        from rich.text import Text  # noqa: PLC0415 - see the module docstring

        done = sum(n for s, n in self.counts.items() if s.finished)
        failed = self.counts.get(TaskStatus.FAILED, 0)
        names = ", ".join(list(self.running)[:4]) + (" …" if len(self.running) > 4 else "")
        elapsed = time.monotonic() - self.started_at
        return Text.assemble(
            (f"{done}/{self.total} done", "bold"),
            f"  {len(self.running)} running",
            (f"  {failed} failed", "red" if failed else ""),
            f"  {elapsed:5.1f}s  ",
            (names, "dim"),
        )


class LineProgress:
    """:class:`ConsoleProgress` off a terminal: the same lines, on stderr, without rich."""

    def __init__(self, *, verbose: bool = False) -> None:
        self.verbose = verbose

    def started(self, run_id: str, total: int) -> None:
        click.echo(f"run {run_id}: {total} tasks", err=True)

    def tick(self, counts: Mapping[TaskStatus, int], dispatched: Sequence[str]) -> None:
        pass

    def task_done(self, key: str, status: TaskStatus) -> None:
        if self.verbose or status is TaskStatus.FAILED:
            word, _ = _MARKS.get(status, (status.value, "white"))
            click.echo(f"{word:>8} {key}", err=True)

    def stop(self) -> None:
        pass

"""The run loop: a Plan becomes a finished run, durable at every step.

One thread drives everything, tick by tick::

    reports = executor.poll()                 # starts and finishes since the last tick
    with store.transaction() as tx:           # ONE transaction per tick:
        outcomes of finished attempts            fenced by attempt id
        scheduler: successes, retries, failures, skips (in memory)
        new attempts for the tasks now ready     recorded `dispatched`
        task rows, events, decisions, heartbeat
    executor.submit(jobs)                     # processes start only after that commit

So a task's start is on disk before its process exists, and its completion is on disk
before any dependent's process exists. A crash anywhere leaves a state that ``uet resume``
reconciles (``uet.engine.recovery``). Output lines travel on the event bus
(``task.output``); the bus is flushed before a tick that records a completion, so a task's
output precedes its outcome in the log.

Deterministic mode runs in waves: dispatch the ready tasks (smallest keys first), wait for
all of them, then record their outcomes sorted by key, stamping times from the engine's own
clock and writing output at completion. Real timing then cannot change the event log.

The loop lives in rooms, imported one way (``loop`` -> ``dispatch`` -> ``settle`` ->
``pacing`` -> ``book``, ``tick``; ``loop`` -> ``ending`` -> ``book``, ``tick``; no room imports
``loop``):

- :mod:`.loop` — :class:`RunLoop`, the facade: the loop, waiting, the order of one tick;
- :mod:`.tick` — :class:`Tick`, a value of what one tick writes, and its ``write``;
- :mod:`.book` — :class:`AttemptBook`, live attempts, numbers, budgets used, the retry heap;
- :mod:`.settle` — outcome -> :class:`Verdict`, applied to the tick by :class:`Settler`;
- :mod:`.dispatch` — ready tasks -> attempts -> jobs, through a launcher per kind of task;
- :mod:`.ending` — cancel requests, the run's end, an interrupted stop;
- :mod:`.pacing` — real time or deterministic waves, a strategy chosen once.
"""

from uet.engine.run.dispatch import TOOL_TASKS_UNAVAILABLE
from uet.engine.run.loop import ExecutorFactory, RunContext, RunLoop
from uet.engine.run.pacing import START_RECORD_S

__all__ = ["START_RECORD_S", "TOOL_TASKS_UNAVAILABLE", "ExecutorFactory", "RunContext", "RunLoop"]

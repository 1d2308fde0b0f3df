"""uet's foundation in one minute: durable state and the event bus, on embedded SQLite.

    python examples/quickstart.py
    uet runs
    uet events quickstart --type 'task.*'

It records a small run in .uet/state.db of the current folder (the same database the `uet`
command reads), emits events through the batched bus, and shows a subscriber receiving only
committed events.
"""

from __future__ import annotations

import time

import uet

RUN_ID = "quickstart"


def main() -> None:
    settings = uet.load_settings()
    store = uet.Store.open(settings)  # creates .uet/state.db at the newest schema
    with store.transaction() as tx:
        if tx.get_run(RUN_ID) is not None:
            print(f"run {RUN_ID!r} already recorded: `uet events {RUN_ID}` shows it")
            return
        now = time.time()
        tx.create_run(
            uet.RunRecord(id=RUN_ID, status=uet.RunStatus.RUNNING, created_at=now, name="demo")
        )
        tx.add_tasks(
            [
                uet.TaskRecord(run_id=RUN_ID, id=task, workstream_id="ws-demo",
                               status=uet.TaskStatus.PENDING)
                for task in ("lint", "test")
            ]
        )

    failures: list[uet.EventRecord] = []
    with uet.EventBus(store) as bus:
        bus.subscribe("*.failed", failures.append)  # called after the event is committed
        for task, exit_code in (("lint", 0), ("test", 1)):
            bus.emit("task.started", {}, run_id=RUN_ID, task_id=task)
            for n in range(3):
                bus.emit("task.output", {"line": f"{task}: step {n}"}, run_id=RUN_ID, task_id=task)
            outcome = "task.completed" if exit_code == 0 else "task.failed"
            bus.emit(outcome, {"exit_code": exit_code}, run_id=RUN_ID, task_id=task)
        bus.flush()  # returns once every event above is durable

    with store.transaction() as tx:
        tx.set_run_status(RUN_ID, uet.RunStatus.FAILED, ended_at=time.time())
    with store.reader() as tx:
        count = tx.count_events(RUN_ID)
    print(f"recorded run {RUN_ID!r} with {count} events in {settings.db}")
    print(f"subscriber saw: {[f'{e.task_id} {e.type} (seq {e.seq})' for e in failures]}")
    print(f"next: `uet runs`, then `uet events {RUN_ID}`")


if __name__ == "__main__":
    main()

"""``uet daemon``, ``uet triggers list|fire`` and ``uet launch`` (what the daemon starts)."""

from __future__ import annotations

import json
import signal
import threading
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from types import FrameType
from typing import TYPE_CHECKING, Any

import click

from uet.cli.app import Context, json_option, pass_context
from uet.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from uet.spec.triggers import Triggers, TriggerSpec
    from uet.state.daemon_lease import Leader

_EVENT_TYPE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._-")


def _load(ctx: Context) -> Triggers:
    from uet.spec.triggers import load_triggers  # noqa: PLC0415 - pydantic, for these only
    from uet.triggers.targets import script_names  # noqa: PLC0415

    return load_triggers(ctx.settings, script_names=script_names(ctx.settings))


def _line(report: Mapping[str, Any]) -> str:
    """One line of text for a daemon report."""
    if "outcome" in report:
        what = report["outcome"]
        head = f"{what} {report['trigger']} [{report['fire_key']}]"
        if report.get("run_id"):
            head += f" -> {report['run_id']}"
        if what == "skipped" and report.get("reason"):
            head += f" ({report['reason']})"
        return head
    return " ".join(f"{k}: {v}" for k, v in report.items())


@click.command()
@click.option("--once", is_flag=True, help="One tick (fire what is due now), then exit.")
@click.option("--drain", is_flag=True, help="On SIGTERM/SIGINT wait for running runs to end first.")
@json_option
@pass_context
def daemon(ctx: Context, once: bool, drain: bool, as_json: bool) -> None:
    """Run the project's triggers (events, file changes, cron, every) until stopped.

    One daemon leads per state database; a second one waits as a standby and takes over
    when the leader dies. SIGTERM or Ctrl-C stops it within 2 s: the runs it started are
    interrupted (resumable with `uet resume`), or finish first with --drain. --json prints
    one JSON line per fire or skip.

    \b
    Examples:
      uet daemon                 # in a terminal, or as a systemd service
      uet daemon --once          # from cron: fire what is due now, then exit
      uet daemon --json | jq .   # one line per fire/skip
    """
    from uet.clock import SystemClock  # noqa: PLC0415
    from uet.triggers.daemon import Daemon  # noqa: PLC0415

    triggers = _load(ctx)

    def emit(report: Mapping[str, Any]) -> None:
        if as_json:
            click.echo(json.dumps(dict(report), sort_keys=True, default=str))
        else:
            click.echo(_line(report))

    def standby(leader: Leader) -> None:
        who = f"pid {leader.pid} on {leader.host}" if leader.pid else "another daemon"
        if once:
            return
        click.echo(f"uet daemon: {who} leads this store; waiting as a standby", err=True)

    stop = threading.Event()
    caught: list[int] = []

    def handler(signum: int, _frame: FrameType | None) -> None:
        caught.append(signum)
        stop.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        runner = Daemon(ctx.settings, ctx.store, triggers, clock=SystemClock(), emit=emit)
        led = runner.serve(stop, once=once, drain=drain, on_standby=standby)
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
    if not led and once:
        click.echo("uet daemon: another daemon leads this store: it fires what is due", err=True)
    if caught and caught[-1] == signal.SIGINT:
        raise click.exceptions.Exit(int(ExitCode.INTERRUPTED))


@click.group()
def triggers() -> None:
    """Inspect and fire the project's triggers (`triggers` section, config/triggers.yaml).

    \b
    Examples:
      uet triggers list
      uet triggers fire nightly-build
      uet triggers fire deploy.requested --data '{"env": "staging"}'
    """


@triggers.command("list")
@json_option
@pass_context
def list_triggers(ctx: Context, as_json: bool) -> None:
    """Each trigger: kind, target, next fire time (cron in words), last fire and policy.

    \b
    Example:
      uet triggers list --json
    """
    from uet.state import fires as ledger  # noqa: PLC0415
    from uet.triggers.schedule import schedule_of  # noqa: PLC0415

    found = _load(ctx)
    store = ctx.existing_store(readonly=True)
    last: dict[str, Any] = {}
    if store is not None:
        with store.reader() as tx:
            last = ledger.last_fires(tx)
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    for spec in found:
        schedule = schedule_of(spec) if spec.kind in ("cron", "every") else None
        fire = last.get(spec.id)
        rows.append(
            {
                "id": spec.id,
                "kind": spec.kind,
                "on": _on(spec),
                "target": _target(spec),
                "enabled": spec.enabled,
                "next_fire": None if schedule is None else schedule.next_after(now).isoformat(),
                "schedule": None if schedule is None else schedule.explain(),
                "last_fire": None
                if fire is None
                else {"at": fire.fired_at, "key": fire.fire_key, "run_id": fire.run_id},
                "catchup": str(spec.catchup),
                "max_catchup": spec.max_catchup,
                "overlap": str(spec.overlap),
                "max_runs_per_hour": spec.max_runs_per_hour,
                "source": found.sources.get(spec.id),
            }
        )
    if as_json:
        ctx.emit_json(rows)
        return
    if not rows:
        click.echo("no triggers (add a `triggers` section to uet.toml or config/triggers.yaml)")
    for row in rows:
        state = "" if row["enabled"] else " (disabled)"
        click.echo(f"{row['id']}{state}: {row['kind']} {row['on']} -> {row['target']}")
        if row["next_fire"]:
            click.echo(f"  next: {row['next_fire']} ({row['schedule']})")
        last_fire = row["last_fire"]
        if last_fire:
            when = datetime.fromtimestamp(last_fire["at"], UTC).isoformat(timespec="seconds")
            click.echo(f"  last: {when} [{last_fire['key']}] run {last_fire['run_id']}")
        limit = row["max_runs_per_hour"]
        cap = f", max {limit}/h" if limit else ""
        click.echo(
            f"  policy: catchup {row['catchup']} (max {row['max_catchup']}), "
            f"overlap {row['overlap']}{cap}"
        )


def _on(spec: TriggerSpec) -> str:
    if spec.event is not None:
        return spec.event + (f" where {spec.where}" if spec.where else "")
    if spec.files is not None:
        return ", ".join(spec.files)
    if spec.cron is not None:
        return f"'{spec.cron}'" + (f" ({spec.timezone})" if spec.timezone else "")
    return f"{spec.every or 0:g}s"


def _target(spec: TriggerSpec) -> str:
    target = spec.target
    if target.workstreams:
        return ", ".join(target.workstreams)
    if target.script:
        return f"script {target.script}"
    return "exec " + " ".join(target.exec or [])


@triggers.command("fire")
@click.argument("name", metavar="ID|EVENT")
@click.option("--data", metavar="JSON", help="A JSON object: the event's payload.")
@json_option
@pass_context
def fire(ctx: Context, name: str, data: str | None, as_json: bool) -> None:
    """Fire trigger ID now (fire key manual:<uuid>), or emit event EVENT into the store
    (the daemon's event triggers see it), recorded as a daemon's fires are.

    \b
    Examples:
      uet triggers fire nightly-build
      uet triggers fire deploy.requested --data '{"env": "staging"}'
    """
    from uet import defaults  # noqa: PLC0415

    payload = _payload(data)
    found = _load(ctx)
    spec = found.by_id.get(name)
    if spec is not None:
        report = _fire_now(ctx, spec, f"{defaults.MANUAL_FIRE_PREFIX}{uuid.uuid4()}", payload)
    elif name and set(name) <= _EVENT_TYPE_CHARS and "." in name.strip("."):
        seq = ctx.store.insert_events([(name, time.time(), None, None, None, payload or None)])
        del seq
        report = {"event": name, "data": payload}
    else:
        known = ", ".join(sorted(found.by_id)) or "none"
        raise UsageError(
            f"{name!r}: not a trigger id (known: {known}) nor an event type (dotted, e.g. "
            "deploy.requested)"
        )
    if as_json:
        ctx.emit_json(report)
    elif "event" in report:
        click.echo(f"emitted {name}")
    else:
        click.echo(_line(report))


def _payload(data: str | None) -> dict[str, Any]:
    if data is None:
        return {}
    try:
        value = json.loads(data)
    except json.JSONDecodeError as error:
        raise UsageError(f"--data: not JSON ({error.msg} at character {error.pos})") from None
    if not isinstance(value, dict):
        raise UsageError(f"--data: expected a JSON object, got {type(value).__name__}")
    return value


def _fire_now(
    ctx: Context, spec: TriggerSpec, key: str, payload: Mapping[str, Any]
) -> dict[str, Any]:
    from uet.clock import SystemClock  # noqa: PLC0415
    from uet.ids import RandomIds  # noqa: PLC0415
    from uet.state import fires as ledger  # noqa: PLC0415
    from uet.triggers.firing import Firing  # noqa: PLC0415
    from uet.triggers.launcher import Launcher  # noqa: PLC0415
    from uet.triggers.targets import plan_for  # noqa: PLC0415

    plan = plan_for(spec, ctx.settings.root, ctx.settings)
    firing = Firing(
        ctx.store, ctx.settings, clock=SystemClock(), ids=RandomIds(), plans=lambda _s: plan
    )
    fired = firing.fire(spec, key, reason="fired by hand (uet triggers fire)", data=payload)
    if fired.run_id is not None:
        Launcher(ctx.settings).launch(fired.run_id)
        with ctx.store.transaction() as tx:
            ledger.set_fire_status(tx, spec.id, key, ledger.FireStatus.LAUNCHED)
    return fired.as_dict()


@click.command()
@click.argument("run_id")
@json_option
@pass_context
def launch(ctx: Context, run_id: str, as_json: bool) -> None:
    """Drive a run a trigger recorded and nobody started yet (what `uet daemon` starts).

    A run that another process drives, or that started already, is left alone (exit 0).

    \b
    Example:
      uet launch run-20261124T094110-c4f2e4
    """
    from uet.cli.running import _report, _watching  # noqa: PLC0415
    from uet.engine.api import launch_run  # noqa: PLC0415

    with _watching(ctx, True) as (_progress, interrupted):
        result = launch_run(run_id, settings=ctx.settings, store=ctx.store, interrupted=interrupted)
    if result is None:
        click.echo(f"run {run_id}: started already (or being started): nothing to do")
        return
    _report(ctx, result, as_json)

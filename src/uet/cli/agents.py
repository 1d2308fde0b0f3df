"""``uet agents create|list|exec|commit|merge|cleanup|recycle|check``: isolated clones."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import click
from rich.markup import escape

from uet.agents import AgentManager
from uet.cli.app import Context, json_option, pass_context
from uet.errors import ExitCode
from uet.isolation.detect import detect
from uet.isolation.merge import MergeResult
from uet.state.records import AgentRecord
from uet.states import AttemptState

repo_option = click.option(
    "--repo",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="The base repository [the project root].",
)


def _manager(ctx: Context) -> AgentManager:
    protected = ctx.settings.all_protected_paths
    return AgentManager(ctx.store, home=ctx.settings.home, protected_paths=protected)


def _fail_if(ctx: Context, failed: bool) -> None:
    if failed:
        raise click.exceptions.Exit(int(ExitCode.FAILED))


@click.group()
def agents() -> None:
    """Isolated git clones for concurrent agents, merged back through a gated queue.

    Each agent works in its own full clone (.uet/agents/ID, branch agent/ID): its own HEAD,
    index and hooks, so agents cannot move each other's branch, stage each other's files or
    block each other's index.lock. See docs/GIT_MULTI_AGENT_RUNBOOK.md.

    \b
    Example:
      uet agents create a1 --scope 'src/app/**'
      uet agents exec a1 -- aider --yes --message "Validate input in src/app/io.py"
      uet agents commit a1 src/app/io.py -m "Validate input"
      uet agents merge a1 --gate "pytest -q"
      uet agents cleanup --merged
    """


@agents.command()
@click.argument("agent_id")
@click.option("--base", metavar="REF", help="Commit the agent starts from [current branch].")
@click.option("--into", "target", metavar="BRANCH", help="Branch merges go into [the base].")
@repo_option
@click.option("--scope", "scope", multiple=True, metavar="GLOB", help="Paths it may change.")
@click.option("--depends-on", multiple=True, metavar="ID", help="Agent merged before this one.")
@click.option("--author", metavar="'NAME <EMAIL>'", help="Author of its commits [the agent].")
@click.option(
    "--sparse",
    multiple=True,
    metavar="DIR",
    help="Check out only DIR (repeatable) and top-level files: a cone-mode sparse clone.",
)
@json_option
@pass_context
def create(
    ctx: Context,
    agent_id: str,
    base: str | None,
    target: str | None,
    repo: Path | None,
    scope: tuple[str, ...],
    depends_on: tuple[str, ...],
    author: str | None,
    sparse: tuple[str, ...],
    as_json: bool,
) -> None:
    """Make an agent's clone at .uet/agents/AGENT_ID on branch agent/AGENT_ID.

    \b
    Example:
      uet agents create fix-io --base main --scope src/app/io.py --scope 'tests/**'
      uet agents create docs --scope 'docs/**' --sparse docs   # only docs/ checked out
    """
    agent = _manager(ctx).create(
        agent_id,
        repo=repo or ctx.settings.root,
        base=base,
        target=target,
        files_scope=scope,
        depends_on=depends_on,
        author=author,
        sparse=sparse,
    )
    if as_json:
        ctx.emit_json(agent.to_dict())
        return
    ctx.console.print(
        f"agent {agent.id}: {agent.path} on {agent.branch} from {agent.base_ref} "
        f"({agent.base_commit[:12]}), merges into {agent.target}"
    )


@agents.command(name="list")
@click.option("--all", "include_removed", is_flag=True, help="Removed agents too.")
@json_option
@pass_context
def list_(ctx: Context, include_removed: bool, as_json: bool) -> None:
    """List agents: status, branch, base and clone.

    \b
    Example:
      uet agents list --json
    """
    store = ctx.existing_store()
    found: list[AgentRecord] = []
    if store is not None:
        found = AgentManager(store, home=ctx.settings.home).list_agents(
            include_removed=include_removed
        )
    if as_json:
        ctx.emit_json([agent.to_dict() for agent in found])
        return
    if not found:
        ctx.console.print("no agents")
    for agent in found:
        scope = ",".join(agent.files_scope) or "*"
        ctx.console.print(
            f"{agent.id:24} {agent.status:8} {agent.branch:30} base {agent.base_commit[:12]} "
            f"-> {agent.target:12} scope {escape(scope)}  {agent.path}"
        )


@agents.command(name="exec", context_settings={"ignore_unknown_options": True})
@click.argument("agent_id")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), help="Seconds.")
@pass_context
def exec_(ctx: Context, agent_id: str, command: tuple[str, ...], timeout: float | None) -> None:
    """Run COMMAND inside the agent's clone (its own process group); commits nothing.

    The exit code is the command's (124 on timeout, 127 when it cannot start).

    \b
    Example:
      uet agents exec a1 -- pytest -q tests/test_io.py
    """
    outcome = _manager(ctx).exec(agent_id, command, timeout=timeout, on_output=click.echo)
    if outcome.state is AttemptState.SUCCEEDED:
        return
    if outcome.state is AttemptState.TIMED_OUT:
        ctx.err.print(f"uet: timed out after {timeout} s; the process group was killed")
        raise click.exceptions.Exit(124)
    if outcome.state is AttemptState.ERROR:
        ctx.err.print(f"uet: {outcome.error}")
        raise click.exceptions.Exit(127)
    code = outcome.exit_code
    raise click.exceptions.Exit(code if code is not None and 0 < code < 126 else 1)


@agents.command()
@click.argument("agent_id")
@click.argument("paths", nargs=-1, required=True)
@click.option("-m", "--message", required=True, help="The commit message.")
@pass_context
def commit(ctx: Context, agent_id: str, paths: tuple[str, ...], message: str) -> None:
    """Commit exactly PATHS (relative to the clone) on the agent's branch.

    \b
    Example:
      uet agents commit a1 src/app/io.py tests/test_io.py -m "Validate input"
    """
    made = _manager(ctx).commit(agent_id, paths, message)
    ctx.console.print(f"committed {made[:12]}" if made else "nothing to commit in those paths")


def _merge_dict(result: MergeResult) -> dict[str, object]:
    data = asdict(result)
    data["status"] = result.status.value
    return data


@agents.command()
@click.argument("agent_ids", nargs=-1, required=True)
@click.option("--into", metavar="BRANCH", help="Target branch [each agent's recorded target].")
@click.option("--gate", metavar="CMD", help="Shell command that must pass on the result.")
@click.option("--gate-timeout", type=click.FloatRange(min=0, min_open=True), help="Seconds.")
@json_option
@pass_context
def merge(
    ctx: Context,
    agent_ids: tuple[str, ...],
    into: str | None,
    gate: str | None,
    gate_timeout: float | None,
    as_json: bool,
) -> None:
    """Merge agents' branches through the queue: rebase if the target moved, check the
    files scope, run the gate on the result in a throwaway clone, fast-forward the target.

    A refusal leaves the target and the agent's branch as they were and says why (exit 1).

    \b
    Example:
      uet agents merge a1 a2 a3 --into main --gate "pytest -q"
    """
    manager = _manager(ctx)
    results = manager.merge(
        agent_ids,
        into=into,
        gate=gate,
        gate_timeout=gate_timeout,
        on_output=None if as_json else (lambda line: ctx.err.print(f"  | {escape(line)}")),
        on_wait=lambda: ctx.err.print("waiting for another merge of this repository…"),
    )
    if as_json:
        ctx.emit_json([_merge_dict(r) for r in results])
    else:
        for result in results:
            style = "green" if result.ok else "red"
            ctx.console.print(
                f"[{style}]{result.status.value:10}[/{style}] {result.agent}: "
                + escape(result.reason + ("" if result.ok else f" [{result.code}]"))
            )
    _fail_if(ctx, any(not r.ok for r in results))


@agents.command()
@click.argument("agent_ids", nargs=-1)
@click.option("--merged", is_flag=True, help="Every merged agent.")
@click.option("--force", is_flag=True, help="Archive unmerged work, then remove anyway.")
@json_option
@pass_context
def cleanup(
    ctx: Context, agent_ids: tuple[str, ...], merged: bool, force: bool, as_json: bool
) -> None:
    """Remove agents' clones; refuses to drop unmerged or uncommitted work (exit 1).

    With --force the work is first kept under refs/uet/archive/ID in the base repository
    (`git log refs/uet/archive/ID` shows it; nothing is lost silently).

    \b
    Example:
      uet agents cleanup --merged
      uet agents cleanup a2 --force
    """
    results = _manager(ctx).cleanup(agent_ids, merged=merged, force=force)
    if as_json:
        ctx.emit_json([asdict(r) for r in results])
    else:
        for result in results:
            ctx.console.print(f"{result.agent}: {escape(result.reason)}")
    _fail_if(ctx, any(not r.removed for r in results))


@agents.command()
@click.argument("agent_id")
@pass_context
def recycle(ctx: Context, agent_id: str) -> None:
    """Replace an agent's broken clone (a stale lock, a damaged index) with a fresh one on
    the same branch tip; the old clone is archived and kept, never deleted.

    \b
    Example:
      uet agents recycle a1
    """
    agent = _manager(ctx).recycle(agent_id)
    ctx.console.print(f"agent {agent.id}: fresh clone at {agent.path}")


@agents.command()
@repo_option
@click.option("--target", metavar="REF", help="Branch agents merge into [each agent's].")
@json_option
@pass_context
def check(ctx: Context, repo: Path | None, target: str | None, as_json: bool) -> None:
    """Look for the six multi-agent git failure modes (P1-P6); exit 1 on any finding.

    \b
    Example:
      uet agents check --json
      uet agents check --repo . --target origin/main   # in CI, on agent/* branches
    """
    store = ctx.existing_store()
    repo_path = repo or ctx.settings.root
    if store is None:
        findings = detect(repo_path.resolve(), (), target=target)
    else:
        findings = AgentManager(store, home=ctx.settings.home).check(repo_path, target=target)
    if as_json:
        ctx.emit_json([asdict(f) for f in findings])
    elif not findings:
        ctx.console.print("no multi-agent git problems found")
    for finding in [] if as_json else findings:
        who = f" agent {finding.agent}" if finding.agent else ""
        ctx.console.print(f"[red]{finding.code}[/red]{who} {finding.where}: {finding.message}")
        for key, value in finding.evidence.items():
            ctx.console.print(f"    {key}: {escape(str(value))}")
    _fail_if(ctx, bool(findings))

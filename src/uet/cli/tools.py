"""``uet tools list|check``: the tool profiles and which are usable here; ``uet route``."""

from __future__ import annotations

import click

from uet.cli.app import Context, json_option, pass_context
from uet.contain.sandbox import probe as probe_sandbox
from uet.engine.toolroute import preview_route
from uet.errors import ExitCode, UsageError
from uet.spec.tools import ToolProfile, check_tools, load_tools


def _profile_dict(profile: ToolProfile) -> dict[str, object]:
    return {
        "name": profile.name,
        "capabilities": profile.capabilities,
        "max_parallel": profile.max_parallel,
        "binary": profile.binary,
        "timeout": profile.timeout,
        "prompt_via": profile.prompt_via,
        "enabled": profile.enabled,
        "source": profile.source,
        "overrides": profile.overrides,
        "argv": profile.argv,
        "model": profile.model,
        "exit_codes": {str(code): meaning for code, meaning in profile.exit_codes.items()},
        "description": profile.description,
        "notes": profile.notes,
    }


@click.group()
def tools() -> None:
    """Tool profiles: how uet runs aider, Claude Code, Codex CLI, Gemini CLI or any command.

    Built-in profiles can be changed and new ones added in uet.toml ([tools.NAME]) or in
    config/tools.yaml; later wins. The originals' invoke.yaml (tools:) and
    config/tool_profiles.json are read too, before them. See docs/tools.md.

    \b
    Example:
      uet tools list
      uet tools check aider claude
    """


@tools.command(name="list")
@json_option
@pass_context
def list_(ctx: Context, as_json: bool) -> None:
    """List tool profiles: capabilities, parallel limit, binary, and where each is defined.

    A profile whose command replaces a built-in's says "(overrides built-in NAME)"; what
    loading kept, changed or ignored follows on its own lines.

    \b
    Example:
      uet tools list --json | jq '.[] | select(.capabilities | index("code_edit")) | .name'
    """
    found = load_tools(ctx.settings, include_disabled=True)
    if as_json:
        ctx.emit_json([_profile_dict(p) for p in found.values()])
        return
    name_width = max([12, *(len(p.name) for p in found.values())])
    binary_width = max([12, *(len(p.binary) for p in found.values())])
    for profile in found.values():
        kinds = ",".join(profile.capabilities) or "-"
        parallel = "-" if profile.max_parallel is None else str(profile.max_parallel)
        state = "" if profile.enabled else "  (disabled)"
        overrides = f"  (overrides {profile.overrides})" if profile.overrides else ""
        ctx.console.print(
            f"{profile.name:{name_width}} {kinds:40} parallel {parallel:3} "
            f"{profile.binary:{binary_width}} {profile.source}{overrides}{state}",
            markup=False,
        )
        for note in profile.notes:
            ctx.console.print(f"  {profile.name}: {note}", markup=False)


@tools.command()
@click.argument("names", nargs=-1, metavar="[NAME]...")
@json_option
@pass_context
def check(ctx: Context, names: tuple[str, ...], as_json: bool) -> None:
    """Check whether tools are usable here: binary on PATH, version, minimum version, and
    the sandbox each would run in (its mode; whether bubblewrap can start here).

    Without NAME, checks every enabled tool and exits 0; with names, exits 1 when one of
    them is not usable.

    \b
    Example:
      uet tools check             # all of them
      uet tools check codex --json
    """
    every = load_tools(ctx.settings, include_disabled=True)
    unknown = [n for n in names if n not in every]
    if unknown:
        raise UsageError(f"no tool {unknown[0]!r} (known: {', '.join(every)})")
    chosen = [every[n] for n in dict.fromkeys(names)] or [p for p in every.values() if p.enabled]
    statuses = check_tools(chosen)
    found = probe_sandbox()
    modes = {p.name: ctx.settings.sandbox or p.sandbox for p in chosen}
    if as_json:
        ctx.emit_json(
            [
                {**s.to_dict(), "sandbox": {"mode": modes[s.name], **found.to_dict()}}
                for s in statuses
            ]
        )
    else:
        for status in statuses:
            verdict = "usable" if status.usable else "unusable"
            detail = status.problem or status.binary_path or ""
            ctx.console.print(
                f"{status.name:12} {verdict:9} {status.version or '-':12} "
                f"sandbox {modes[status.name]:8} {detail}",
                markup=False,
            )
        ctx.console.print(f"sandbox: {found.reason}", markup=False)
    if names and not all(s.usable for s in statuses):
        raise click.exceptions.Exit(int(ExitCode.FAILED))


@click.command()
@click.option("--kind", required=True, metavar="K", help="The task kind (code_edit, docs…).")
@click.option("--risk", metavar="R", help="The task's risk, when rules match on it.")
@click.option("--complexity", metavar="C", help="The task's complexity, when rules match on it.")
@click.option("--exclude", multiple=True, metavar="TOOL", help="A tool already tried.")
@json_option
@pass_context
def route(
    ctx: Context,
    kind: str,
    risk: str | None,
    complexity: str | None,
    exclude: tuple[str, ...],
    as_json: bool,
) -> None:
    """Show the routing decision for a task, without running or recording anything.

    Uses the routing rules, the tool profiles and the stored breaker and round-robin state
    (so an open breaker shows up). With no rule for the kind, the tools whose profiles list
    it are candidates (alphabetically). Tools not usable here (binary missing, version too
    old) are passed over and listed with the reason. Exit 1 when no tool could take the task.

    \b
    Example:
      uet route --kind code_edit --risk low
      uet route --kind code_edit --json | jq .unavailable
    """
    preview = preview_route(
        ctx.settings,
        kind,
        risk=risk,
        complexity=complexity,
        exclude=exclude,
        store=ctx.existing_store(),
    )
    decision = preview.decision
    if as_json:
        ctx.emit_json(preview.to_dict())
    else:
        ctx.console.print(f"{decision.tool or 'no tool'}: {decision.reason}", markup=False)
        for tool, why in decision.skipped:
            ctx.console.print(f"  passed over {tool}: {why}", markup=False)
        if decision.fallback:
            ctx.console.print(f"  then: {', '.join(decision.fallback)}", markup=False)
        passed = {tool for tool, _ in decision.skipped}
        for tool, why in preview.unavailable.items():
            if tool not in passed:
                ctx.console.print(f"  not available here: {tool}: {why}", markup=False)
    if decision.tool is None:
        raise click.exceptions.Exit(int(ExitCode.FAILED))

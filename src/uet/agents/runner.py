"""The agent runner: one attempt of a tool task, as the engine starts it.

    python -m uet.agents.runner SPEC.json

The engine writes SPEC.json (:mod:`uet.engine.tooltasks`) and runs this module as the
attempt's process, in the attempt's process group. With ``isolation: clone`` it:

1. takes the task's agent clone (``.uet/agents/<agent>``; made on the first attempt, reused by
   retries so that the tool can fix its own work);
2. writes the prompt file (instructions, files scope, acceptance commands, and on a retry the
   previous attempt's errors) under ``.uet/prompts/<run>/``;
3. runs the tool's rendered argv in the clone, streaming its output; a rate-limit or quota
   message exits :data:`RATE_LIMITED_EXIT` (the engine moves the task to the next tool);
4. checks every changed path against ``files_scope``: a change outside it is archived
   (``refs/uet/archive/<agent>``), discarded from the clone and rejected
   (:data:`SCOPE_REJECTED_EXIT`), so nothing of it can reach the target;
5. records the diff under ``.uet/patches/<run>/``, runs the ``acceptance`` commands in the
   clone, commits the changed paths by name and merges the branch through the merge queue
   (gated by the acceptance commands, on the rebased result).

With ``isolation: none`` the tool runs in the project root and nothing is committed.
Every step prints one ``uet:`` line, so ``uet logs`` tells the story.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from uet.agents.service import AgentManager
from uet.engine.tooltasks import RATE_LIMITED_EXIT, SCOPE_REJECTED_EXIT, attempt_file
from uet.errors import UetError
from uet.isolation.clones import AgentClone, archive_work
from uet.isolation.git import Git, without_git_redirections
from uet.scope import FileScope
from uet.spec.tools import Outcome, ToolProfile, classify_output, render_argv
from uet.state.records import DecisionRecord
from uet.state.store import Store

OUTPUT_KEPT = 200_000  # characters of the tool's output kept to look for rate-limit messages


def agent_id_for(run_id: str, task: str) -> str:
    """A stable agent id for a task of a run: readable, unique, a valid branch name."""
    readable = re.sub(r"[^a-z0-9._-]+", "-", task.lower()).strip("-.")[:40] or "task"
    digest = hashlib.blake2b(f"{run_id}\0{task}".encode(), digest_size=4).hexdigest()
    return f"t-{readable}-{digest}"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m uet.agents.runner SPEC.json", file=sys.stderr)
        return 2
    spec: dict[str, Any] = json.loads(Path(args[0]).read_text(encoding="utf-8"))
    try:
        return _run(spec)
    except UetError as exc:
        print(f"uet: error: {exc}", flush=True)
        return 3


def _say(message: str) -> None:
    print(f"uet: {message}", flush=True)


def _run(spec: dict[str, Any]) -> int:
    profile = ToolProfile.model_validate(spec["profile"])
    root = Path(spec["root"])
    home = Path(spec["home"])
    if spec["isolation"] != "clone":
        code, signal = _run_tool(profile, spec, root, _prompt_file(spec, home))
        return RATE_LIMITED_EXIT if signal is not None and code != 0 else code
    store = Store.open(spec["db"])
    try:
        manager = AgentManager(store, home=home)
        agent = agent_id_for(spec["run_id"], spec["task"])
        clone = _clone(manager, agent, root, spec["files_scope"])
        with clone.occupied("run it again"):  # no cleanup or merge from elsewhere meanwhile
            return _in_clone(store, manager, clone, profile, spec)
    finally:
        store.close()


def _in_clone(
    store: Store,
    manager: AgentManager,
    clone: AgentClone,
    profile: ToolProfile,
    spec: dict[str, Any],
) -> int:
    home = manager.home
    _say(f"agent {clone.id} in {clone.path} (branch {clone.context.branch}), tool {profile.name}")
    code, signal = _run_tool(profile, spec, clone.path, _prompt_file(spec, home))
    changed = clone.state().changed
    limited = signal is not None and (code != 0 or not changed)  # it may still exit 0
    if limited or code != 0:
        return RATE_LIMITED_EXIT if limited else code
    if not changed:
        if clone.commits_since_base() and manager.get(clone.id).status != "merged":
            _say("nothing new, but earlier attempts' commits are not merged yet: merging them")
            return _merge(manager, clone, spec)
        _say(f"{profile.name} changed nothing")
        return 1
    outside = FileScope(spec["files_scope"]).outside(changed)
    if outside:
        return _reject(store, clone, spec, changed, outside)
    _say(f"changed: {', '.join(changed)}")
    _save_patch(clone, spec, home, changed)
    for command in spec["acceptance"]:
        _say(f"acceptance: {command}")
        done = subprocess.run(  # noqa: S602 - the user's acceptance command, a shell string
            command,
            shell=True,
            cwd=clone.path,
            env=_environment(),
            stdin=subprocess.DEVNULL,
            check=False,
        )
        if done.returncode != 0:
            _say(f"acceptance failed (exit {done.returncode}): {command}")
            return 1
    title = (spec["prompt"].strip().splitlines() or [spec["task"]])[0][:72]
    made = manager.commit(clone.id, changed, f"{spec['task']}: {title}\n\nuet run {spec['run_id']}")
    _say(f"committed {made} on {clone.context.branch}")
    return _merge(manager, clone, spec)


def _merge(manager: AgentManager, clone: AgentClone, spec: dict[str, Any]) -> int:
    gate = " && ".join(f"({c})" for c in spec["acceptance"]) or None
    [result] = manager.merge([clone.id], gate=gate, run_id=spec["run_id"], task_id=spec["task"])
    _say(f"merge {result.status.value}: {result.reason}")
    return 0 if result.ok else 1


def _environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Our environment for the tool and the acceptance commands, without git variables that
    would aim them at another repository (uet started from a git hook)."""
    return {**without_git_redirections(), **(extra or {})}


def _clone(manager: AgentManager, agent: str, root: Path, scope: list[str]) -> AgentClone:
    existing = [a for a in manager.list_agents() if a.id == agent]
    if existing and Path(existing[0].path, ".git").is_dir():
        return manager.clone(agent)
    if existing:  # its clone is gone: forget it and start again
        manager.cleanup([agent])
    manager.create(agent, repo=root, files_scope=scope)
    return manager.clone(agent)


def _prompt_file(spec: dict[str, Any], home: Path) -> Path:
    parts = [spec["prompt"].strip() or f"Do task {spec['task']}."]
    if spec["files_scope"]:
        parts.append(
            "Only change these files (anything else is rejected):\n"
            + "\n".join(f"- {pattern}" for pattern in spec["files_scope"])
        )
    if spec["acceptance"]:
        parts.append(
            "Your change is accepted when these commands pass:\n"
            + "\n".join(f"- `{command}`" for command in spec["acceptance"])
        )
    if spec.get("previous_error"):
        parts.append(
            "The previous attempt failed with this output; fix the cause:\n"
            f"```\n{spec['previous_error']}\n```"
        )
    path = attempt_file(home / "prompts", spec["run_id"], spec["task"], spec["attempt"], ".md")
    path.write_text("\n\n".join(parts) + "\n", encoding="utf-8")
    return path


def _run_tool(
    profile: ToolProfile, spec: dict[str, Any], workdir: Path, prompt_file: Path
) -> tuple[int, Outcome | None]:
    """Run the tool in ``workdir``, streaming its output; (exit code, a rate-limit or quota
    message it printed). ``{prompt}`` is the task's own prompt; the full text (scope,
    acceptance, previous errors) only ever goes through the prompt file or stdin, so no
    output of an earlier attempt can reach a command line."""
    files = [p for p in spec["files_scope"] if (workdir / p).is_file()]
    argv = render_argv(
        profile, prompt=spec["prompt"], prompt_file=prompt_file, files=files, workdir=workdir
    )
    _say(f"running {profile.name}: {' '.join(argv[:3])}{' …' if len(argv) > 3 else ''}")
    env = _environment({**profile.env, "UET_PROMPT_FILE": str(prompt_file)})
    feed = prompt_file.read_text(encoding="utf-8") if profile.prompt_via == "stdin" else None
    kept: deque[str] = deque()
    size = 0
    try:
        with subprocess.Popen(  # a configured tool's argv, no shell
            argv,
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL if feed is None else subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        ) as process:
            if process.stdin is not None:  # from a thread: the tool may print before reading
                threading.Thread(target=_feed, args=(process.stdin, feed), daemon=True).start()
            assert process.stdout is not None  # noqa: S101 - PIPE was asked for
            for line in process.stdout:
                sys.stdout.write(line)
                kept.append(line)
                size += len(line)
                while size > OUTPUT_KEPT and len(kept) > 1:
                    size -= len(kept.popleft())
            code = process.wait()
    except OSError as exc:  # not found, not executable, argument list too long
        _say(f"cannot run {profile.name} ({argv[0]!r}): {exc.strerror or exc}")
        return 127, None
    sys.stdout.flush()
    signal = classify_output(profile, "".join(kept))
    if signal is not None:
        what = "out of quota" if signal is Outcome.QUOTA else "rate-limited"
        _say(f"{profile.name} says it is {what} (exit {code})")
    if not profile.succeeded(code):
        _say(f"{profile.name} failed (exit {code})")
        return code or 1, signal
    return 0, signal


def _feed(pipe: IO[str], text: str | None) -> None:
    try:
        pipe.write(text or "")
        pipe.close()
    except (BrokenPipeError, OSError):  # the tool exited without reading it all
        pass


def _reject(
    store: Store, clone: AgentClone, spec: dict[str, Any], changed: list[str], outside: list[str]
) -> int:
    """Out of scope: keep the work in the archive, clean the clone, record why."""
    archive = archive_work(clone, Git(Path(clone.context.repo)), reason="out of files_scope")
    clone.discard_changes()
    reason = (
        f"{len(outside)} changed path(s) outside files_scope {spec['files_scope']}: "
        f"{', '.join(outside[:10])}"
    )
    with store.transaction() as tx:
        tx.record_decisions(
            [
                DecisionRecord(
                    category="scope",
                    chosen="rejected",
                    reason=reason,
                    ts=time.time(),
                    run_id=spec["run_id"],
                    task_id=spec["task"],
                    alternatives=["accepted", "rejected"],
                    data={"changed": changed[:200], "outside": outside[:200], "archive": archive},
                )
            ]
        )
    _say(f"rejected: {reason}; the change is kept in {archive} and was not committed")
    return SCOPE_REJECTED_EXIT


def _save_patch(clone: AgentClone, spec: dict[str, Any], home: Path, changed: list[str]) -> None:
    diff = clone.diff(changed)
    path = attempt_file(home / "patches", spec["run_id"], spec["task"], spec["attempt"], ".diff")
    path.write_text(diff, encoding="utf-8")
    _say(f"diff saved to {path}")


if __name__ == "__main__":
    sys.exit(main())

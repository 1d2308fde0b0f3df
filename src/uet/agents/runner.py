"""The agent runner: one attempt of a tool task, as the engine starts it.

    python -m uet.agents.runner ATTEMPT.json

The engine writes ATTEMPT.json (a :class:`uet.spec.attempt.ToolAttempt`) and runs this module
as the attempt's process, in the attempt's process group. With ``isolation: clone`` it:

1. takes the task's agent clone (``.uet/agents/<agent>``; made on the first attempt, reused by
   retries so that the tool can fix its own work);
2. writes the prompt file (instructions, files scope, acceptance commands and instructions,
   and on a retry or a fix the previous errors) under ``.uet/prompts/<run>/``;
3. runs the tool's rendered argv in the clone, streaming its output; a rate-limit or quota
   message exits :data:`RATE_LIMITED_EXIT` (the engine moves the task to the next tool);
4. checks every changed path against ``files_scope`` and the protected paths
   (:class:`uet.scope.ProtectedPaths`): a change outside the scope, or to a protected path
   the scope does not name, is archived (``refs/uet/archive/<agent>``), discarded from the
   clone and rejected (:data:`SCOPE_REJECTED_EXIT`, a ``scope`` decision naming the paths),
   so nothing of it can reach the target;
5. runs the ``acceptance`` commands — the gate — in the clone, *before anything is
   committed*; when one fails and the task has a ``fix_loop``, the tool is called again in
   the same clone with the failing command's output in its prompt (:mod:`uet.agents.fixloop`
   says when to stop), each step a ``fix_loop`` decision;
6. once the gate passes: records the diff under ``.uet/patches/<run>/``, commits the changed
   paths by name and merges the branch through the merge queue (gated again by the
   acceptance commands, on the rebased result). A gate that never passes leaves the target
   branch untouched.

With ``isolation: none`` the tool runs in the project root and nothing is committed.
Every step prints one ``uet:`` line, so ``uet logs`` tells the story.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pydantic

from uet.agents.fixloop import error_signature, verdict
from uet.agents.service import AgentManager
from uet.config import load_settings
from uet.contain import paths, sandbox
from uet.contain.env import Masker, known_secrets, tool_environment
from uet.contain.rules import Violation
from uet.errors import ConfigError, UetError
from uet.isolation.clones import AgentClone, archive_work
from uet.isolation.content import check_worktree
from uet.isolation.git import Git, without_git_redirections
from uet.scope import FileScope, ProtectedPaths
from uet.spec.attempt import RATE_LIMITED_EXIT, SCOPE_REJECTED_EXIT, ToolAttempt, attempt_file
from uet.spec.tools import Outcome, classify_output, render_argv
from uet.state.records import DecisionRecord
from uet.state.store import Store

OUTPUT_KEPT = 200_000  # characters of the tool's output kept to look for rate-limit messages
GATE_OUTPUT_KEPT = 4000  # characters of a failing gate command's output given to the next try


def agent_id_for(run_id: str, task: str) -> str:
    """A stable agent id for a task of a run: readable, unique, a valid branch name."""
    readable = re.sub(r"[^a-z0-9._-]+", "-", task.lower()).strip("-.")[:40] or "task"
    digest = hashlib.blake2b(f"{run_id}\0{task}".encode(), digest_size=4).hexdigest()
    return f"t-{readable}-{digest}"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m uet.agents.runner ATTEMPT.json", file=sys.stderr)
        return 2
    try:
        attempt = ToolAttempt.read(Path(args[0]))
    except (OSError, pydantic.ValidationError) as exc:
        problem = exc.errors()[0]["msg"] if isinstance(exc, pydantic.ValidationError) else exc
        print(f"uet: error: {args[0]}: not a tool attempt uet can run: {problem}", flush=True)
        return 2
    _SECRETS.extend(_known_secrets(attempt))
    global _mask  # noqa: PLW0603 - one attempt per process: its masker, set once here
    _mask = Masker(_SECRETS)
    try:
        return _run(attempt)
    except UetError as exc:
        _say(f"error: {exc}")
        return 3


_SECRETS: list[str] = []
_mask = Masker(())  # replaces known secrets in everything the runner prints


def _known_secrets(attempt: ToolAttempt) -> list[str]:
    """The secrets of uet's environment and of the project's configuration."""
    try:
        sections = load_settings(cwd=attempt.root).sections
    except ConfigError:  # the engine loaded it before the run: a change since; go without
        sections = {}
    return known_secrets(os.environ, sections, attempt.db)


def _say(message: str) -> None:
    print(_mask(f"uet: {message}"), flush=True)


def _run(attempt: ToolAttempt) -> int:
    if attempt.isolation != "clone":
        prompt = _prompt_file(attempt, attempt.previous_error, 1)
        code, signal = _run_tool(attempt, attempt.root, prompt)
        return RATE_LIMITED_EXIT if signal is not None and code != 0 else code
    store = Store.open(attempt.db)
    try:
        manager = AgentManager(
            store,
            home=attempt.home,
            protected_paths=attempt.protected_paths,
            run_id=attempt.run_id,
            task_id=attempt.task,
        )
        agent = agent_id_for(attempt.run_id, attempt.task)
        clone = _clone(manager, agent, attempt)
        with clone.occupied("run it again"):  # no cleanup or merge from elsewhere meanwhile
            return _in_clone(store, manager, clone, attempt)
    finally:
        store.close()


@dataclass(frozen=True, slots=True)
class GateFailure:
    """The first acceptance command that failed, with the end of its output."""

    command: str
    exit_code: int
    output: str

    def describe(self) -> str:
        return f"`{self.command}` exited {self.exit_code}:\n{self.output}"


def _in_clone(  # noqa: PLR0911 - one return per way an attempt ends, in step order
    store: Store, manager: AgentManager, clone: AgentClone, attempt: ToolAttempt
) -> int:
    name = attempt.profile.name
    _say(f"agent {clone.id} in {clone.path} (branch {clone.context.branch}), tool {name}")
    error = attempt.previous_error
    signatures: list[str] = []
    for step in range(1, attempt.max_tries + 1):
        code, signal = _run_tool(attempt, clone.path, _prompt_file(attempt, error, step))
        changed = clone.state().changed
        limited = signal is not None and (code != 0 or not changed)  # it may still exit 0
        if limited or code != 0:
            return RATE_LIMITED_EXIT if limited else code
        if not changed:
            if clone.commits_since_base() and manager.get(clone.id).status != "merged":
                _say("nothing new, but earlier attempts' commits are not merged yet: merging them")
                return _merge(manager, clone, attempt)
            _say(f"{name} changed nothing")
            return 1
        if _out_of_bounds(store, clone, attempt, changed):
            return SCOPE_REJECTED_EXIT
        _say(f"changed: {', '.join(changed)}")
        failure = _gate(clone, attempt)
        if failure is None:
            if signatures:
                _record_step(store, attempt, step=step, chosen="passed", reason="the gate passed")
            return _commit_and_merge(manager, clone, attempt, changed)
        signatures.append(error_signature(failure.command, failure.exit_code, failure.output))
        if attempt.fix_loop is None:
            return 1
        next_step = verdict(signatures, attempt.fix_loop)
        chosen = "again" if next_step.again else "stop"
        _record_step(
            store,
            attempt,
            step=step,
            chosen=chosen,
            reason=next_step.reason,
            failure=failure,
            signature=signatures[-1],
            stopped_by=next_step.stopped_by,
        )
        if not next_step.again:
            _say(f"fix loop stops: {next_step.reason}; nothing was committed")
            return 1
        _say(f"fix loop: {next_step.reason}, with the failing output in the prompt")
        error = failure.describe()
    return 1  # not reached: the verdict stops at max_attempts


def _commit_and_merge(
    manager: AgentManager, clone: AgentClone, attempt: ToolAttempt, changed: list[str]
) -> int:
    _save_patch(clone, attempt, changed)
    title = (attempt.prompt.strip().splitlines() or [attempt.task])[0][:72]
    message = f"{attempt.task}: {title}\n\nuet run {attempt.run_id}"
    made = manager.commit(clone.id, changed, message)
    _say(f"committed {made} on {clone.context.branch}")
    return _merge(manager, clone, attempt)


def _gate(clone: AgentClone, attempt: ToolAttempt) -> GateFailure | None:
    """Run the acceptance commands in the clone, in order, streaming their output; the first
    failure (with the end of its output), or None when every one passed."""
    for command in attempt.acceptance:
        _say(f"acceptance: {command}")
        with subprocess.Popen(  # noqa: S602 - the user's acceptance command, a shell string
            command,
            shell=True,
            cwd=clone.path,
            env=_environment(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        ) as process:
            code, tail = _stream(process, GATE_OUTPUT_KEPT)
        if code != 0:
            _say(f"acceptance failed (exit {code}): {command}")
            return GateFailure(command, code, tail[-GATE_OUTPUT_KEPT:])
    if attempt.acceptance:
        _say("acceptance passed")
    return None


def _record_step(
    store: Store,
    attempt: ToolAttempt,
    *,
    step: int,
    chosen: str,
    reason: str,
    failure: GateFailure | None = None,
    signature: str | None = None,
    stopped_by: str | None = None,
) -> None:
    """One ``fix_loop`` decision: the step, its gate failure and signature, what comes next."""
    loop = attempt.fix_loop
    data: dict[str, Any] = {
        "step": step,
        "attempt": attempt.attempt,
        "max_attempts": attempt.max_tries,
        "max_error_repeats": loop.max_error_repeats if loop else None,
        "oscillation_threshold": loop.oscillation_threshold if loop else None,
        "signature": signature,
        "stopped_by": stopped_by,  # max_attempts | max_error_repeats | oscillation
    }
    if failure is not None:
        data.update(
            command=failure.command, exit_code=failure.exit_code, output=failure.output[-1000:]
        )
    _decide(
        store,
        attempt,
        category="fix_loop",
        chosen=chosen,
        reason=reason,
        alternatives=["again", "stop", "passed"],
        data=data,
    )


def _decide(
    store: Store,
    attempt: ToolAttempt,
    *,
    category: str,
    chosen: str,
    reason: str,
    alternatives: list[Any],
    data: dict[str, Any],
) -> None:
    record = DecisionRecord(
        category=category,
        chosen=chosen,
        reason=reason,
        ts=time.time(),
        run_id=attempt.run_id,
        task_id=attempt.task,
        alternatives=alternatives,
        data=data,
    )
    with store.transaction() as tx:
        tx.record_decisions([record])


def _merge(manager: AgentManager, clone: AgentClone, attempt: ToolAttempt) -> int:
    gate = " && ".join(f"({c})" for c in attempt.acceptance) or None
    [result] = manager.merge([clone.id], gate=gate, run_id=attempt.run_id, task_id=attempt.task)
    _say(f"merge {result.status.value}: {result.reason}")
    return 0 if result.ok else 1


def _environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Our environment for the tool and the acceptance commands, without git variables that
    would aim them at another repository (uet started from a git hook)."""
    return {**without_git_redirections(), **(extra or {})}


def _clone(manager: AgentManager, agent: str, attempt: ToolAttempt) -> AgentClone:
    existing = [a for a in manager.list_agents() if a.id == agent]
    if existing and Path(existing[0].path, ".git").is_dir():
        return manager.clone(agent)
    if existing:  # its clone is gone: forget it and start again
        manager.cleanup([agent])
    manager.create(
        agent,
        repo=attempt.root,
        files_scope=list(attempt.files_scope),
        allowances=attempt.allowances,
    )
    return manager.clone(agent)


def _prompt_file(attempt: ToolAttempt, error: str | None, step: int) -> Path:
    parts = [attempt.prompt.strip() or f"Do task {attempt.task}."]
    if attempt.files_scope:
        parts.append(
            "Only change these files (anything else is rejected):\n"
            + "\n".join(f"- {pattern}" for pattern in attempt.files_scope)
        )
    parts.append(
        "Never change these protected paths (the change is rejected):\n"
        + "\n".join(f"- {entry}" for entry in ProtectedPaths(attempt.protected_paths).entries)
    )
    if attempt.acceptance:
        parts.append(
            "Your change is accepted when these commands pass:\n"
            + "\n".join(f"- `{command}`" for command in attempt.acceptance)
        )
    if attempt.acceptance_instructions:
        parts.append(
            "Your change must also meet these acceptance criteria:\n"
            + "\n".join(f"- {text}" for text in attempt.acceptance_instructions)
        )
    if error:
        parts.append(
            f"The previous attempt failed with this output; fix the cause:\n```\n{error}\n```"
        )
    suffix = ".md" if step == 1 else f".{step}.md"  # <task>-<attempt>.<fix step>.md
    path = attempt_file(
        attempt.home / "prompts", attempt.run_id, attempt.task, attempt.attempt, suffix
    )
    paths.write_text(attempt.home, path, "\n\n".join(parts) + "\n")  # no link followed
    return path


def _run_tool(attempt: ToolAttempt, workdir: Path, prompt_file: Path) -> tuple[int, Outcome | None]:
    """Run the tool in ``workdir``, streaming its output; (exit code, a rate-limit or quota
    message it printed). ``{prompt}`` is the task's own prompt; the full text (scope,
    acceptance, previous errors) only ever goes through the prompt file or stdin, so no
    output of an earlier attempt can reach a command line."""
    profile = attempt.profile
    files = [p for p in attempt.files_scope if _regular_file(workdir, p)]
    argv = render_argv(
        profile, prompt=attempt.prompt, prompt_file=prompt_file, files=files, workdir=workdir
    )
    _say(f"running {profile.name}: {' '.join(argv[:3])}{' …' if len(argv) > 3 else ''}")
    env = _tool_env(attempt, prompt_file)
    feed = prompt_file.read_text(encoding="utf-8") if profile.prompt_via == "stdin" else None
    wrapped = _sandboxed(attempt, argv, workdir, prompt_file)
    if wrapped is None:
        return 3, None
    capped = wrapped is not argv  # in the sandbox: RLIMIT_NPROC too
    argv = wrapped
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
            preexec_fn=sandbox.limit_processes if capped else None,  # noqa: PLW1509 - setrlimit only
        ) as process:
            if process.stdin is not None:  # from a thread: the tool may print before reading
                pipe, process.stdin = process.stdin, None  # the thread's: Popen never closes it
                threading.Thread(target=_feed, args=(pipe, feed), daemon=True).start()
            code, kept = _stream(process, OUTPUT_KEPT)
    except OSError as exc:  # not found, not executable, argument list too long
        _say(f"cannot run {profile.name} ({argv[0]!r}): {exc.strerror or exc}")
        return 127, None
    signal = classify_output(profile, kept)
    if signal is not None:
        what = "out of quota" if signal is Outcome.QUOTA else "rate-limited"
        _say(f"{profile.name} says it is {what} (exit {code})")
    if not profile.succeeded(code):
        _say(f"{profile.name} failed (exit {code})")
        return code or 1, signal
    return 0, signal


def _tool_env(attempt: ToolAttempt, prompt_file: Path) -> dict[str, str]:
    """The tool's environment: the allow-list, the profile's passthrough names and env,
    the task's env (see :mod:`uet.contain.env`); never a secret uet knows by accident."""
    profile = attempt.profile
    env, dropped = tool_environment(
        without_git_redirections(),
        passthrough=profile.env_passthrough,
        profile_env=profile.env,
        task_env=attempt.env,
        extra={"UET_PROMPT_FILE": str(prompt_file)},
        secrets=_SECRETS,
    )
    if dropped:
        _say(f"not given to {profile.name} (they hold a secret): {', '.join(dropped)}")
    return env


def _sandboxed(
    attempt: ToolAttempt, argv: list[str], workdir: Path, prompt_file: Path
) -> list[str] | None:
    """``argv`` inside the sandbox when the attempt wants it and it works here; as it is
    when it is off or (``auto``) cannot start; None when it is ``required`` and cannot."""
    if attempt.sandbox == "none":
        return argv
    found = sandbox.probe()
    if not found.available or found.program is None:
        if attempt.sandbox == "required":
            _say(f"error: sandbox: required, but {found.reason}")
            return None
        _say(f"sandbox: off ({found.reason})")
        return argv
    home = os.environ.get("HOME")
    git_dir = workdir / ".git"
    _say(f"sandbox: bubblewrap, network {'on' if attempt.network else 'off'}")
    return sandbox.wrap(
        argv,
        program=found.program,
        workdir=workdir,
        hidden=[attempt.root, attempt.home],
        home=Path(home) if home else None,
        home_paths=attempt.profile.home_paths,
        readable=[prompt_file, *_named_files(argv)],
        read_only=[git_dir / "hooks", git_dir / "config"] if attempt.isolation == "clone" else [],
        network=attempt.network,
    )


def _named_files(argv: Sequence[str]) -> list[Path]:
    """Files the tool's command line names by absolute path (a script, a config): the
    profile's author chose them, so the sandbox shows them, read-only."""
    return [Path(arg) for arg in argv[1:] if arg.startswith("/") and Path(arg).is_file()]


def _regular_file(root: Path, path: str) -> bool:
    full = root / path
    try:
        paths.inside(root, full)
    except paths.LinkOutError:
        return False
    return full.is_file() and not full.is_symlink()


def _stream(process: subprocess.Popen[str], keep: int) -> tuple[int, str]:
    """Copy ``process``'s output to ours line by line until it exits: (its exit code, about
    the last ``keep`` characters it printed, whole lines)."""
    assert process.stdout is not None  # noqa: S101 - PIPE was asked for
    kept: deque[str] = deque()
    size = 0
    for raw in process.stdout:
        line = _mask(raw)  # a secret never reaches the log, an event or the next prompt
        sys.stdout.write(line)
        kept.append(line)
        size += len(line)
        while size > keep and len(kept) > 1:
            size -= len(kept.popleft())
    code = process.wait()
    sys.stdout.flush()
    return code, "".join(kept)


def _feed(pipe: IO[str], text: str | None) -> None:
    try:
        pipe.write(text or "")
        pipe.close()
    except (BrokenPipeError, OSError):  # the tool exited without reading it all
        pass


def _out_of_bounds(
    store: Store, clone: AgentClone, attempt: ToolAttempt, changed: list[str]
) -> bool:
    """Reject (True) a change outside the files scope, to a protected path the scope does
    not name, or that breaks a content rule (:mod:`uet.contain.rules`: a symlink, a
    gitlink, a binary…): keep the work in the archive, clean the clone, record why."""
    scope = FileScope(attempt.files_scope)
    outside = scope.outside(changed)
    base = clone.context.base_commit
    protected = ProtectedPaths(attempt.protected_paths).violations(
        changed,
        scope,
        lambda path: (_show(clone, base, path), _read(clone.path, clone.path / path)),
    )
    policy = attempt.allowances.policy(attempt.files_scope, attempt.protected_paths)
    named = {path for path, _entry in protected}
    content = [v for v in check_worktree(clone.git, changed, policy) if v.path not in named]
    if not outside and not protected and not content:
        return False
    archive = archive_work(clone, Git(Path(clone.context.repo)), reason="out of scope")
    clone.discard_changes()
    reasons = []
    if outside:
        reasons.append(
            f"{len(outside)} changed path(s) outside files_scope {list(attempt.files_scope)}: "
            f"{', '.join(outside[:10])}"
        )
    if protected:
        reasons.append(
            f"{len(protected)} protected path(s) changed: "
            + ", ".join(f"{path} ({entry})" for path, entry in protected[:10])
        )
    if content:
        reasons.append(
            f"{len(content)} changed path(s) break the content rules: "
            + ", ".join(str(v) for v in content[:10])
        )
    reason = "; ".join(reasons)
    data = {
        "changed": changed[:200],
        "outside": outside[:200],
        "protected": [path for path, _ in protected[:200]],
        "protected_by": dict(protected[:200]),
        "content": [_violation(v) for v in content[:200]],
        "rules": sorted({v.rule.value for v in content} | ({"protected"} if protected else set())),
        "archive": archive,
    }
    _decide(
        store,
        attempt,
        category="scope",
        chosen="rejected",
        reason=reason,
        alternatives=["accepted", "rejected"],
        data=data,
    )
    _say(f"rejected: {reason}; the change is kept in {archive} and was not committed")
    return True


def _violation(violation: Violation) -> dict[str, str]:
    return {"path": violation.path, "rule": violation.rule.value, "detail": violation.detail}


def _show(clone: AgentClone, commit: str, path: str) -> str | None:
    done = clone.git.run("show", f"{commit}:{path}", check=False)
    return done.stdout if done.returncode == 0 else None


def _read(root: Path, path: Path) -> str | None:
    return paths.read_text(root, path)  # a planted link is never followed out of the clone


def _save_patch(clone: AgentClone, attempt: ToolAttempt, changed: list[str]) -> None:
    diff = clone.diff(changed)
    where = attempt.home / "patches"
    path = attempt_file(where, attempt.run_id, attempt.task, attempt.attempt, ".diff")
    paths.write_text(attempt.home, path, diff)
    _say(f"diff saved to {path}")


if __name__ == "__main__":
    sys.exit(main())

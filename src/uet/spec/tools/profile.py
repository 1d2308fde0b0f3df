"""Tool profiles: how to run one AI coding CLI (or any command) for a task.

A profile's ``argv`` is a template. Each element may hold placeholders, filled in by
:func:`render_argv` for one invocation:

=================  ============================================================
``{prompt}``       the task's prompt text
``{prompt_file}``  a file holding the prompt (the runner writes it)
``{files}``        the task's files; a whole element ``{files}`` becomes one argv
                   element per file (none when there are none), inside a longer
                   element the files are joined with spaces
``{workdir}``      the folder the tool runs in (the agent's clone)
``{model}``        the model; an element that uses it is left out when no model
                   is given and the profile has none (write ``--model={model}``)
=================  ============================================================

``{{`` and ``}}`` stand for literal braces; any other ``{name}`` is a configuration error.
Values are inserted as they are and never scanned again, so a prompt that contains
``{files}`` reaches the tool unchanged.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Sequence
from os import PathLike
from typing import Annotated, Literal

import pydantic

from uet.errors import ConfigError
from uet.spec._bounds import Concurrency, Env, EnvName, SandboxMode, Timeout

TOOL_NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]*$"
KIND_PATTERN = r"^[a-z0-9][a-z0-9._-]*$"
VERSION_PATTERN = r"^\d+(\.\d+)*$"

PLACEHOLDERS = frozenset({"prompt", "prompt_file", "files", "workdir", "model"})
"""The names a template may use."""

PLACEHOLDER_ALIASES = {
    "model_name": "model",
    "message": "prompt",
    "file_paths": "files",
    "test_paths": "files",
    "file": "files",
    "cwd": "workdir",
    "repo_root": "workdir",
    "worktree_path": "workdir",
}
"""The originals' placeholder names, accepted too and stored as uet's (the tool runs in the
task's clone, so the originals' working folders are all ``{workdir}``)."""

KNOWN_KINDS = ("code_edit", "refactor", "test_fix", "docs", "review", "shell")
"""Task kinds the built-in profiles declare; profiles may declare others."""

RESERVED_NAMES = frozenset({"auto"})
"""``tool: auto`` asks the router to choose, so no profile may be called that."""

_TOKEN = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")

PathArg = str | PathLike[str]


def _template(element: str) -> str:
    unknown = placeholders_in(element) - PLACEHOLDERS
    if unknown:
        raise ValueError(_unknown_message(sorted(unknown)[0]))
    return element


def _kind(kind: str) -> str:
    if not re.fullmatch(KIND_PATTERN, kind):
        raise ValueError(f"{kind!r} is not a task kind (e.g. {', '.join(KNOWN_KINDS)})")
    return kind


def _regex(pattern: str) -> str:
    try:
        re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise ValueError(f"{pattern!r} is not a valid regular expression: {exc}") from None
    return pattern


Template = Annotated[str, pydantic.AfterValidator(_template)]
Kind = Annotated[str, pydantic.AfterValidator(_kind)]
Regex = Annotated[str, pydantic.AfterValidator(_regex)]


class Outcome(enum.StrEnum):
    """What a tool's output says about why it stopped, beyond its exit code."""

    RATE_LIMITED = "rate_limited"  # wait and retry, or fall back to another tool
    QUOTA = "quota"  # the account's allowance is used up: do not retry soon


class _Model(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)


class ToolCheck(_Model):
    """How ``uet tools check`` decides whether a tool is usable here."""

    binary: str | None = None  # default: argv[0]
    version_args: list[str] | None = pydantic.Field(default_factory=lambda: ["--version"])
    min_version: str | None = pydantic.Field(None, pattern=VERSION_PATTERN)
    timeout: Timeout = 10.0  # seconds the version command may take


class ToolProfile(_Model):
    """One tool: its argv template, environment, limits, capabilities and output patterns.

    ``name`` is the key the profile is registered under; ``source`` says where it was
    defined (``built-in``, ``uet.toml``, ``config/tools.yaml``…, joined by ``+`` when a
    later layer changed an earlier one); ``overrides`` names the built-in whose command a
    user's entry replaced, and ``notes`` what the loader kept, changed or ignored.
    ``prompt_via`` is how the prompt reaches the tool: as an argument (``{prompt}``), as a
    file (``{prompt_file}``), or on stdin (neither); it is derived from ``argv`` when not
    given.
    """

    name: str = pydantic.Field(pattern=TOOL_NAME_PATTERN)
    argv: list[Template] = pydantic.Field(min_length=1)
    env: Env = pydantic.Field(default_factory=dict)
    timeout: Timeout | None = None  # seconds per invocation
    success_codes: list[int] = pydantic.Field(default_factory=lambda: [0], min_length=1)
    capabilities: list[Kind] = pydantic.Field(default_factory=list)
    max_parallel: Concurrency | None = None  # invocations at once
    check: ToolCheck = ToolCheck()
    rate_limit_patterns: list[Regex] = pydantic.Field(default_factory=list)
    quota_patterns: list[Regex] = pydantic.Field(default_factory=list)
    model: str | None = None
    prompt_via: Literal["arg", "file", "stdin"] = "stdin"
    description: str = ""
    enabled: bool = True
    exit_codes: dict[int, str] = pydantic.Field(default_factory=dict)  # code -> meaning
    source: str = "built-in"
    overrides: str | None = None  # "built-in aider": a user's command replaced the built-in's
    notes: list[str] = pydantic.Field(default_factory=list)  # what loading changed or ignored
    # Containment (docs/security.md): the tool's environment is an allow-list, plus these
    # names from uet's environment; the sandbox shows it these paths of $HOME.
    env_passthrough: list[EnvName] = pydantic.Field(default_factory=list)
    home_paths: list[str] = pydantic.Field(default_factory=list)  # "~/.config/aider"…
    sandbox: SandboxMode = "auto"
    network: bool = True  # false: the sandbox gives the tool no network

    @pydantic.field_validator("home_paths")
    @classmethod
    def _in_home(cls, paths: list[str]) -> list[str]:
        for path in paths:
            relative = path.removeprefix("~/") if path.startswith("~/") else None
            if not relative or relative.startswith("/") or ".." in relative.split("/"):
                raise ValueError(f"{path!r}: give a path inside the home folder, as ~/PATH")
        return paths

    @pydantic.model_validator(mode="before")
    @classmethod
    def _derive_prompt_via(cls, data: object) -> object:
        if isinstance(data, dict) and data.get("prompt_via") is None:
            argv = data.get("argv")
            if isinstance(argv, list) and all(isinstance(a, str) for a in argv):
                used = {PLACEHOLDER_ALIASES.get(p, p) for a in argv for p in placeholders_in(a)}
                via = "arg" if "prompt" in used else "file" if "prompt_file" in used else "stdin"
                data = {**data, "prompt_via": via}
        return data

    @pydantic.field_validator("argv", mode="before")
    @classmethod
    def _uet_names(cls, argv: object) -> object:
        if isinstance(argv, list) and all(isinstance(a, str) for a in argv):
            return [_TOKEN.sub(_alias, a) for a in argv]
        return argv

    @pydantic.field_validator("argv")
    @classmethod
    def _names_the_program(cls, argv: list[str]) -> list[str]:
        if not argv[0] or placeholders_in(argv[0]) & {"files", "model"}:
            raise ValueError("argv[0] must name the program ({files} and {model} may vanish)")
        return argv

    @pydantic.model_validator(mode="after")
    def _prompt_reaches_tool(self) -> ToolProfile:
        if self.name in RESERVED_NAMES:
            raise ValueError(f"{self.name!r} is reserved (tool: auto lets the router choose)")
        needed = {"arg": "prompt", "file": "prompt_file"}.get(self.prompt_via)
        if needed and needed not in self.placeholders:
            raise ValueError(f"prompt_via {self.prompt_via!r} needs {{{needed}}} in argv")
        return self

    @property
    def placeholders(self) -> frozenset[str]:
        """The placeholder names the argv template uses."""
        return frozenset().union(*(placeholders_in(a) for a in self.argv))

    @property
    def binary(self) -> str:
        """The program the availability check looks for."""
        return self.check.binary or self.argv[0]

    def can(self, kind: str) -> bool:
        """True when the profile declares the task kind ``kind``."""
        return kind in self.capabilities

    def succeeded(self, exit_code: int) -> bool:
        return exit_code in self.success_codes


def _alias(match: re.Match[str]) -> str:
    name = match.group(1)
    return f"{{{PLACEHOLDER_ALIASES[name]}}}" if name in PLACEHOLDER_ALIASES else match.group(0)


def placeholders_in(element: str) -> set[str]:
    """The placeholder names used in one argv element (``{{``/``}}`` escapes excluded)."""
    return {m.group(1) for m in _TOKEN.finditer(element) if m.group(1)}


def render_argv(
    profile: ToolProfile,
    *,
    prompt: str = "",
    prompt_file: PathArg | None = None,
    files: Iterable[PathArg] = (),
    workdir: PathArg | None = None,
    model: str | None = None,
) -> list[str]:
    """The argv for one invocation: the template with its placeholders filled in.

    ``model`` defaults to the profile's. Raises :class:`ConfigError` for a placeholder
    that is not known (possible only for a profile built without validation) and
    ``ValueError`` when the template needs ``prompt_file`` or ``workdir`` and none is given.
    """
    values: dict[str, str | None] = {
        "prompt": prompt,
        "prompt_file": None if prompt_file is None else str(prompt_file),
        "workdir": None if workdir is None else str(workdir),
        "model": model if model is not None else profile.model,
    }
    file_list = [str(f) for f in files]
    argv: list[str] = []
    for index, element in enumerate(profile.argv):
        if element == "{files}":
            argv.extend(file_list)
        elif values["model"] is None and "model" in placeholders_in(element):
            continue
        else:
            argv.append(_fill(profile, index, element, values, file_list))
    return argv


def _fill(
    profile: ToolProfile,
    index: int,
    element: str,
    values: dict[str, str | None],
    files: Sequence[str],
) -> str:
    def substitute(match: re.Match[str]) -> str:
        token, name = match.group(0), match.group(1)
        if not name:
            return token[0]  # "{{" -> "{", "}}" -> "}"
        if name == "files":
            return " ".join(files)
        if name not in values:
            source = profile.source or "tools"
            raise ConfigError(source, f"tools.{profile.name}.argv[{index}]", _unknown_message(name))
        value = values[name]
        if value is None:
            raise ValueError(f"tool {profile.name!r} needs {{{name}}} (argv[{index}]): none given")
        return value

    return _TOKEN.sub(substitute, element)


def _unknown_message(name: str) -> str:
    known = ", ".join(f"{{{p}}}" for p in sorted(PLACEHOLDERS))
    return f"unknown placeholder {{{name}}} (known: {known}; write {{{{ for a literal brace)"


def classify_output(profile: ToolProfile, text: str) -> Outcome | None:
    """``quota`` or ``rate_limited`` when the output matches the profile's patterns, else None.

    Quota patterns are tried first: a used-up allowance often also mentions 429. Look at the
    output whatever the exit code: some tools print a rate-limit error and exit 0. Pass the
    tail of a long output; the patterns are searched case-insensitively, line by line.
    """
    for outcome, patterns in (
        (Outcome.QUOTA, profile.quota_patterns),
        (Outcome.RATE_LIMITED, profile.rate_limit_patterns),
    ):
        for pattern in patterns:
            if re.search(pattern, text, re.IGNORECASE | re.MULTILINE):
                return outcome
    return None

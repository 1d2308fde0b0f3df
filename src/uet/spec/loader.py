"""Loading workstream files: any supported format in, validated models or every problem out.

::

    load_file("workstreams/build.yaml")          -> [WorkstreamSpec, ...]
    load_files(["a.yaml", "b.json"])             -> Plan (one DAG across the files)

A file is read (``_read``), each workstream in it detected and converted (``_formats``),
variables substituted (``_substitute``), validated by pydantic (errors translated by
``_problems``) and checked for what pydantic cannot see (``_checks``). Nothing stops at the
first problem: :class:`~uet.errors.SpecError` carries every problem of every file, each
naming the file, the key path and what is wrong. An invalid file never yields a plan.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydantic

from uet import defaults
from uet.errors import Problem, SpecError
from uet.memory import collector_paused
from uet.spec._checks import Loaded, check_tasks, check_workstreams, views_of_raw, views_of_spec
from uet.spec._formats import BUNDLE, NATIVE, Origin, detect
from uet.spec._overlaps import serialise_overlaps
from uet.spec._problems import Loc, format_path, got, translate
from uet.spec._read import read_data
from uet.spec._resolve import build_plan
from uet.spec._siblings import sibling_bundles
from uet.spec._substitute import substitute
from uet.spec.models import Plan, WorkstreamSpec
from uet.spec.scripts.model import ScriptSpec
from uet.spec.scripts.tasks import has_script_tasks, resolve_script_tasks

PathLike = str | os.PathLike[str]
Scripts = Mapping[str, ScriptSpec] | Callable[[], Mapping[str, ScriptSpec]]
"""The script registry for ``script:`` tasks, or a function giving it (called when needed)."""


def _registry(scripts: Scripts | None) -> Callable[[], Mapping[str, ScriptSpec]]:
    """The registry, loaded once and only when a file has a script task; by default the
    project's (``uet.toml`` [scripts] and ``config/scripts.yaml`` found from the working
    folder)."""
    if isinstance(scripts, Mapping):
        given = scripts
        return lambda: given
    if scripts is not None:
        return functools.cache(scripts)

    @functools.cache
    def project() -> Mapping[str, ScriptSpec]:
        from uet.config import load_settings  # noqa: PLC0415 - only for script tasks
        from uet.spec.scripts.loader import load_scripts  # noqa: PLC0415

        return load_scripts(load_settings())

    return project


@dataclass(slots=True)
class _FileResult:
    """What one file gave: its valid workstreams, its problems, ids of its invalid ones."""

    loaded: list[Loaded] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    invalid_ids: set[str] = field(default_factory=set)
    warnings: list[Problem] = field(default_factory=list)


def load_file(
    path: PathLike,
    env: Mapping[str, str] | None = None,
    *,
    max_bytes: int | None = None,
    scripts: Scripts | None = None,
) -> list[WorkstreamSpec]:
    """The workstreams of one file (native, legacy bundle or plan; YAML or JSON).

    ``env`` supplies ``${VAR}`` values (default: ``os.environ``). Checks that need every
    workstream of a run (unique workstream ids, known workstream dependencies, no cycle
    among workstreams) are :func:`load_files`' job. A file larger than ``max_bytes``
    (default ``uet.defaults.MAX_SPEC_BYTES``, 16 MiB) or not a regular file is a problem,
    refused before it is read. ``scripts`` is the registry ``script:`` tasks are resolved
    against (default: the project's, loaded when a task needs it). Raises :class:`SpecError`.
    """
    limit = defaults.MAX_SPEC_BYTES if max_bytes is None else max_bytes
    with collector_paused():
        result = _load(Path(path), os.environ if env is None else env, limit, _registry(scripts))
    if result.problems:
        raise SpecError(result.problems)
    return [item.spec for item in result.loaded]


def load_files(
    paths: PathLike | Iterable[PathLike],
    env: Mapping[str, str] | None = None,
    *,
    max_bytes: int | None = None,
    scripts: Scripts | None = None,
) -> Plan:
    """Several files as one plan: their workstreams checked together and resolved to one DAG.

    Raises :class:`SpecError` with every problem of every file (unreadable ones included).
    A single path is taken as a list of one; ``max_bytes`` bounds each file as in
    :func:`load_file`, and ``scripts`` too.
    """
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    env = os.environ if env is None else env
    limit = defaults.MAX_SPEC_BYTES if max_bytes is None else max_bytes
    registry = _registry(scripts)
    with collector_paused():
        given = [Path(path) for path in paths]
        results = [_load(path, env, limit, registry) for path in given]
        results.extend(
            sibling_bundles(given, results, lambda path: _load(path, env, limit, registry))
        )
        loaded = [item for result in results for item in result.loaded]
        problems = [problem for result in results for problem in result.problems]
        invalid_ids = {spec_id for result in results for spec_id in result.invalid_ids}
        problems.extend(check_workstreams(loaded, also_known=invalid_ids))
        loaded, overlaps, conflicts = serialise_overlaps(loaded)
        problems.extend(conflicts)
        if problems:
            raise SpecError(problems)
        warnings = [warning for result in results for warning in result.warnings]
        return dataclasses.replace(build_plan(loaded), warnings=(*warnings, *overlaps))


def _load(
    path: Path,
    env: Mapping[str, str],
    max_bytes: int,
    scripts: Callable[[], Mapping[str, ScriptSpec]],
) -> _FileResult:
    result = _FileResult()
    data, unusable = read_data(path, max_bytes)  # unusable numbers come with the data
    if isinstance(data, list):
        if not data:
            result.problems.append(Problem(str(path), "", "the file holds an empty list"))
        for index, item in enumerate(data):
            _load_one(item, str(path), (index,), env, result, scripts=scripts)
    elif data is not None:
        _load_one(data, str(path), (), env, result, scripts=scripts)
    if unusable:  # said once, in the reader's words, where validation saw the same value
        known = {problem.path for problem in unusable}
        result.problems = [*unusable, *(p for p in result.problems if p.path not in known)]
    return result


def _load_one(
    data: Any,
    file: str,
    prefix: Loc,
    env: Mapping[str, str],
    out: _FileResult,
    *,
    scripts: Callable[[], Mapping[str, ScriptSpec]],
) -> None:
    """Detect, substitute, validate, convert and check one workstream of a file."""
    if not isinstance(data, dict):
        message = f"expected a workstream, a legacy bundle or a plan (a mapping), {got(data)}"
        out.problems.append(Problem(file, format_path(prefix), message))
        return
    fmt = detect(data)
    origin = Origin(file, prefix, fmt)
    for loc, message in substitute(data, fmt.substituted, env):
        out.problems.append(Problem(file, format_path(prefix + loc), message))
    try:
        validated = fmt.model.model_validate(data)
    except pydantic.ValidationError as exc:
        out.problems.extend(translate(exc, file, prefix, fmt.model))
        raw_tasks = data.get(fmt.tasks_key) if fmt is not BUNDLE else None
        out.problems.extend(check_tasks(views_of_raw(raw_tasks, fmt is NATIVE), origin))
        raw_id = data.get(fmt.id_key)
        if isinstance(raw_id, str):
            out.invalid_ids.add(raw_id)
        return
    spec = fmt.convert(validated)  # formats' constraints imply the native model's
    out.problems.extend(check_tasks(views_of_spec(spec), origin))
    if has_script_tasks(spec):
        spec, unresolved = resolve_script_tasks(spec, scripts, file, origin.task_path, env)
        out.problems.extend(unresolved)
    for loc, message in fmt.warnings(validated):
        out.warnings.append(Problem(file, format_path(prefix + loc), message))
    out.loaded.append(Loaded(spec, origin))

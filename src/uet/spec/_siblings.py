"""Bundles given one file at a time: their dependencies are found beside them.

The originals always loaded every bundle of their ``workstreams/`` folder, so a bundle's
``depends_on`` could name a bundle of another file. When uet is given such a file alone, each
dependency that no given file defines is looked up among the other ``*.json`` files of the
bundle's folder; the file that defines it is loaded too (and so on, transitively), with a
warning saying why. A dependency found nowhere stays an error that names the folder.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Protocol, TypeVar

from uet.errors import Problem
from uet.spec._checks import Loaded
from uet.spec._read import read_data

BUNDLE_SUFFIX = ".json"


class _Result(Protocol):
    loaded: list[Loaded]
    invalid_ids: set[str]
    warnings: list[Problem]


R = TypeVar("R", bound=_Result)


def sibling_bundles(
    given: Iterable[Path], results: Sequence[R], load: Callable[[Path], R]
) -> list[R]:
    """Results of the bundle files beside ``results``' bundles (loaded from the ``given``
    files) that define their missing dependencies; a warning on each says why."""
    added: list[R] = []
    seen = {path.resolve() for path in given}
    index: dict[Path, dict[str, Path]] = {}
    pending = list(results)
    while pending:
        known = _ids([*results, *added])
        found: dict[Path, tuple[str, str]] = {}
        for item in (item for result in pending for item in result.loaded):
            if item.origin.format.name != "legacy bundle":
                continue
            folder = Path(item.origin.file).parent  # as given: messages name paths so
            defined = index.setdefault(folder.resolve(), _bundle_ids(folder))
            for dep in item.spec.depends_on:
                path = defined.get(dep)
                if dep not in known and path is not None and path.resolve() not in seen:
                    found.setdefault(path, (item.spec.id, dep))
        pending = []
        for path, (needed_by, dep) in sorted(found.items()):
            seen.add(path.resolve())
            result = load(path)
            message = f"loaded because {needed_by} depends on {dep} (a bundle of the same folder)"
            result.warnings.insert(0, Problem(str(path), "", message))
            pending.append(result)
        added.extend(pending)
    return added


def _ids(results: Iterable[_Result]) -> set[str]:
    return {
        spec_id
        for result in results
        for spec_id in [*(item.spec.id for item in result.loaded), *result.invalid_ids]
    }


def _bundle_ids(folder: Path) -> dict[str, Path]:
    """Bundle id → the file of ``folder`` that defines it (the first, by name)."""
    defined: dict[str, Path] = {}
    for path in sorted(folder.glob(f"*{BUNDLE_SUFFIX}")):
        data, problems = read_data(path)
        if problems:
            continue
        for item in data if isinstance(data, list) else [data]:
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                defined.setdefault(item["id"], path)
    return defined

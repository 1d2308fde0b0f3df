"""The real corpus of the originals' files, and the originals' own verdict on each.

The corpus lives beside the repository, in ``<repo>/../shared/corpus/originals/`` (its
``README.md`` and ``MANIFEST.tsv`` say where each file comes from). Tests skip when it is
absent and fail when ``CI=true``. The originals' verdict on a bundle is their own schema
(``fixtures/workstream.schema.json``, a copy of theirs) judged by ``jsonschema``, as their
``validate_bundle_data`` did, plus their loader's checks (dependencies present, no cycle).
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO.parent / "shared" / "corpus" / "originals"
SCHEMA = json.loads((Path(__file__).parent / "fixtures" / "workstream.schema.json").read_text())
_QUOTED = re.compile(r"'([^']+)'")


@dataclass(frozen=True)
class Entry:
    """One row of MANIFEST.tsv."""

    file: str
    repo: str
    path: str  # in the original repository
    kind: str

    @property
    def folder(self) -> str:
        return str(Path(self.path).parent)


def require_corpus() -> Path:
    if not CORPUS.is_dir():
        message = f"the originals' corpus is not at {CORPUS}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}; CI must have it")
        pytest.skip(message)
    return CORPUS


def manifest() -> list[Entry]:
    """The corpus' files (none when the corpus is absent: tests then skip)."""
    if not (CORPUS / "MANIFEST.tsv").is_file():
        return []
    with (CORPUS / "MANIFEST.tsv").open(encoding="utf-8") as handle:
        rows = csv.DictReader(handle, delimiter="\t")
        return [Entry(row["file"], row["repo"], row["path"], row["kind"]) for row in rows]


def real_bundles() -> list[Entry]:
    """The bundles of the originals' ``workstreams/`` folders (not their tests' fixtures)."""
    return [e for e in manifest() if e.kind == "bundle" and e.file.startswith("pipe0-")]


def read_json(entry: Entry) -> tuple[Any, str | None]:
    """The file's data, or why the originals' ``json.loads`` refused it."""
    try:
        return json.loads((CORPUS / entry.file).read_text(encoding="utf-8")), None
    except json.JSONDecodeError as exc:
        return None, str(exc)


def schema_errors(data: Any) -> list[jsonschema.ValidationError]:
    """The originals' schema verdict on a file: every error of every bundle in it."""
    items = data if isinstance(data, list) else [data]
    validator = jsonschema.Draft7Validator(SCHEMA)
    return [error for item in items for error in validator.iter_errors(item)]


def keys_named(errors: Iterable[jsonschema.ValidationError]) -> set[str]:
    """The top-level keys the originals' errors are about (missing, unknown, wrong)."""
    keys: set[str] = set()
    for error in errors:
        if error.validator in ("required", "additionalProperties"):
            keys.update(_QUOTED.findall(error.message))
        path = [part for part in error.absolute_path if isinstance(part, str)]
        keys.update(path[:1])
    return keys


def lay_out(entries: Iterable[Entry], root: Path) -> dict[str, Path]:
    """The files under ``root`` at their original paths (so that each sits beside the
    bundles it sat beside); file name → its path under ``root``."""
    laid: dict[str, Path] = {}
    for entry in entries:
        target = root / entry.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((CORPUS / entry.file).read_bytes())
        laid[entry.file] = target
    return laid


def originals_accept(entry: Entry, entries: list[Entry]) -> bool:
    """Their schema accepts the file and every bundle it depends on (transitively) is in a
    file of the same folder that their schema accepts: what their loader needed."""
    data, error = read_json(entry)
    if error is not None or schema_errors(data):
        return False
    defined: dict[str, Any] = {}
    for other in entries:
        other_data, other_error = read_json(other)
        if other.folder != entry.folder or other_error or schema_errors(other_data):
            continue
        for item in other_data if isinstance(other_data, list) else [other_data]:
            defined.setdefault(item["id"], item)
    items = data if isinstance(data, list) else [data]
    stack = [dep for item in items for dep in item.get("depends_on", [])]
    seen: set[str] = {item["id"] for item in items}
    while stack:
        dep = stack.pop()
        if dep not in defined:
            return False
        if dep not in seen:
            seen.add(dep)
            stack.extend(defined[dep].get("depends_on", []))
    return True

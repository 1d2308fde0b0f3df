"""The scan cache: a checker's findings, kept by the content hash of what it read.

One JSON file per checker under ``<home>/cache/scan/``::

    {"identity": "...",                       # the checker, its tool and config (below)
     "files": {"src/a.py": {"hash": "…", "findings": [...]}},   # per-file checkers
     "sets": {"<hash of every (path, hash)>": [...]}}           # the others

The identity is the checker's own (its class, name, patterns, the tool's path, size and
mtime: a new ruff is a new identity) plus the content of its config files (pyproject.toml…).
A different identity empties the checker's cache. A per-file checker (ruff, bandit) is run
again on the files whose content changed only; the others (mypy, pytest) when any of their
files changed. Only a checker run that succeeded is cached. A cache file that cannot be read
is treated as empty (it is a cache: the scan is then as slow as the first one, never wrong).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from uet.recovery.findings import Finding

CACHE_FOLDER = Path("cache") / "scan"
"""Where the scan cache lives, relative to uet's home (``.uet``)."""

_VERSION = 1


def file_hash(path: Path) -> str:
    """sha256 of a file's bytes ("" when it cannot be read)."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 16), b""):
                digest.update(block)
    except OSError:
        return ""
    return digest.hexdigest()


def set_hash(hashes: Mapping[str, str]) -> str:
    """One hash for a set of files and their content hashes."""
    material = "\n".join(f"{path}\0{hashes[path]}" for path in sorted(hashes))
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def identity_of(checker_identity: str, root: Path, config_files: Iterable[str]) -> str:
    """The cache identity: the checker's own and its config files' content."""
    parts = [checker_identity] + [f"{name}\0{file_hash(root / name)}" for name in config_files]
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()


@dataclass
class CheckerCache:
    """One checker's cache (the module docstring), loaded or empty."""

    path: Path
    identity: str
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    sets: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    changed: bool = False

    @classmethod
    def load(cls, folder: Path, name: str, identity: str) -> CheckerCache:
        path = folder / f"{name}.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls(path, identity)
        if not isinstance(data, dict) or data.get("version") != _VERSION:
            return cls(path, identity)
        if data.get("identity") != identity:
            return cls(path, identity, changed=True)
        return cls(path, identity, dict(data.get("files") or {}), dict(data.get("sets") or {}))

    def per_file(self, hashes: Mapping[str, str]) -> tuple[list[Finding], list[str]]:
        """The cached findings of unchanged files, and the files to check again."""
        found: list[Finding] = []
        stale = []
        for path, digest in hashes.items():
            entry = self.files.get(path)
            if entry is None or entry.get("hash") != digest or not digest:
                stale.append(path)
            else:
                found += [Finding.from_dict(item) for item in entry["findings"]]
        return found, stale

    def store_files(self, hashes: Mapping[str, str], findings: Sequence[Finding]) -> None:
        """Keep the findings of the files just checked (each of ``hashes``)."""
        by_path: dict[str, list[dict[str, Any]]] = {path: [] for path in hashes}
        for finding in findings:
            if finding.path in by_path:
                by_path[finding.path].append(finding.to_dict())
        for path, items in by_path.items():
            self.files[path] = {"hash": hashes[path], "findings": items}
        self.changed = True

    def whole(self, key: str) -> list[Finding] | None:
        items = self.sets.get(key)
        return None if items is None else [Finding.from_dict(item) for item in items]

    def store_whole(self, key: str, findings: Sequence[Finding]) -> None:
        self.sets = {key: [finding.to_dict() for finding in findings]}  # the latest set only
        self.changed = True

    def save(self) -> None:
        """Write the cache atomically (a reader never sees half a file)."""
        if not self.changed:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {"version": _VERSION, "identity": self.identity, "files": self.files,
                "sets": self.sets}  # fmt: skip
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, separators=(",", ":"))
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self.changed = False

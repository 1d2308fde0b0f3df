"""Which changed files fire a trigger (interim stand-in for the trigcore branch's module)."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from pathlib import Path

from uet.spec.triggers import TriggerSpec

_OWN = (".uet/*", ".uet", ".git/*")


class FileFilter:
    def __init__(self, spec: TriggerSpec, root: Path, own_paths: Iterable[str] = ()) -> None:
        self.spec = spec
        self.root = root
        self.own = [*_OWN, *own_paths]

    def fires(self, path: str) -> bool:
        try:
            relative = Path(path).resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return False
        if any(fnmatch.fnmatchcase(relative, p) for p in self.own):
            return False
        if any(fnmatch.fnmatchcase(relative, p) for p in self.spec.ignore):
            return False
        return any(fnmatch.fnmatchcase(relative, p) for p in self.spec.files or ())

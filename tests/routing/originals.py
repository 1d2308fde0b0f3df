"""The originals' real files (../shared/corpus/originals/ beside the repository).

Tests skip when the folder is absent, and fail when ``CI=true`` (there it must be present).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO.parent / "shared" / "corpus" / "originals"


def corpus_file(name: str) -> Path:
    """The path of one file of the corpus; skips (or fails on CI) when it is not there."""
    path = CORPUS / name
    if not path.is_file():
        message = f"the originals' corpus is not at {CORPUS} (file {name})"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def manifest(kind_contains: str) -> list[str]:
    """The corpus files whose MANIFEST kind contains ``kind_contains`` (empty: no corpus)."""
    path = CORPUS / "MANIFEST.tsv"
    if not path.is_file():
        return []
    names = []
    for line in path.read_text(encoding="utf-8").splitlines():
        fields = line.split("\t")
        if len(fields) >= 5 and kind_contains in fields[4]:
            names.append(fields[0])
    return names

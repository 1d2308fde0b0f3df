"""Many processes opening one empty database at once: one creates it, none fails."""

from __future__ import annotations

import subprocess
import sys

import pytest

from uet.state import schema
from uet.state.database import get_engine

OPEN = """
import sys
from uet.state.store import Store
Store.open(sys.argv[1]).close()
"""


@pytest.mark.slow
def test_concurrent_first_opens_create_the_schema_once(db_url: str) -> None:
    """Six processes race to open an empty database: all succeed, the schema is at head."""
    children = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN, db_url], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(6)
    ]
    outcomes = [
        (child.wait(timeout=120), child.stderr.read() if child.stderr else b"")
        for child in children
    ]
    for child in children:
        for stream in (child.stdout, child.stderr):
            if stream is not None:
                stream.close()
    assert [code for code, _ in outcomes] == [0] * 6, [err.decode()[-500:] for _, err in outcomes]
    assert schema.status(get_engine(db_url)).up_to_date
    assert schema.drift(get_engine(db_url)) == []

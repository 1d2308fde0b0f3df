"""File triggers' pure part: which changed paths fire (uet's own writes never do) and
debounce grouping of bursts."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from uet.config import load_settings
from uet.spec.triggers import TriggerSpec
from uet.triggers.files import Debouncer, FileFilter, debounce


def spec(files: list[str], ignore: list[str] | None = None) -> TriggerSpec:
    data: dict[str, Any] = {"id": "t", "files": files, "target": {"exec": ["make"]}}
    if ignore is not None:
        data["ignore"] = ignore
    return TriggerSpec.model_validate(data)


ROOT = Path("/p")


def test_globs_and_ignores() -> None:
    """A path fires when a glob matches it and no ignore does; absolute or relative."""
    f = FileFilter(spec(["src/", "*.md"], ["src/gen/", "*.tmp"]), ROOT)
    assert f.fires("src/app.py")
    assert f.fires("/p/src/app.py")
    assert f.fires("docs/x/readme.md")
    assert not f.fires("src/gen/out.py")
    assert not f.fires("src/a.tmp")
    assert not f.fires("tests/test_a.py")
    assert not f.fires("/elsewhere/src/app.py")
    assert not f.fires("../p2/src/app.py")


def test_uets_own_writes_never_fire() -> None:
    """Home, the database and its companions, backups, run logs, declared outputs, .git
    and editors' swap files: none fires, even for a trigger on every file."""
    f = FileFilter(
        spec(["**"]),
        ROOT,
        own_paths=["build/out.txt", "/p/dist", "/outside/x"],
        home=ROOT / ".uet",
        db_path=ROOT / "var" / "state.db",
        backup_dir=ROOT / "var" / "backups",
    )
    quiet = [
        ".uet/state.db",
        ".uet/state.db-wal",
        ".uet/logs/r1/ws/t.log",
        ".uet/agents/a1/src/x.py",
        "var/state.db",
        "var/state.db-wal",
        "var/state.db-shm",
        "var/state.db-journal",
        "var/state.db.locks",
        "var/backups/b1.db",
        "build/out.txt",
        "dist/pkg.whl",
        ".git/index",
        "src/__pycache__/a.cpython-311.pyc",
        "src/.a.py.swp",
        "src/a.py~",
        "src/.#a.py",
        "src/4913",
    ]
    assert [p for p in quiet if f.fires(p)] == []
    assert f.fires("src/a.py")
    assert f.fires("var/state.dbx")
    assert f.fires("build/other.txt")


def test_for_settings_ignores_the_projects_database_and_backups(tmp_path: Path) -> None:
    """Built from real settings (UET_DB inside the project, UET_HOME elsewhere): the
    database, its companions, the home and the backups never fire."""
    (tmp_path / "uet.toml").write_text('db = "sqlite:///data/uet.db"\nhome = "state"\n')
    settings = load_settings(cwd=tmp_path)
    f = FileFilter.for_settings(spec(["**"]), settings)
    assert not f.fires(tmp_path / "data" / "uet.db-wal")
    assert not f.fires(tmp_path / "state" / "logs" / "r" / "t.log")
    assert not f.fires(settings.backup_dir / "b.db")
    assert f.fires(tmp_path / "data" / "other.csv")


def test_a_home_elsewhere_is_ignored_where_it_is() -> None:
    """With UET_HOME=state, state/** is uet's and .uet/ is an ordinary folder."""
    f = FileFilter(spec(["**"]), ROOT, home=ROOT / "state")
    assert not f.fires("state/logs/x.log")
    assert f.fires(".uet/x")


def test_firing_lists_each_path_once() -> None:
    """A watcher's batch with duplicates and absolute paths gives sorted relative paths."""
    f = FileFilter(spec(["src/"]), ROOT)
    batch = ["/p/src/b.py", "src/a.py", "/p/src/b.py", "/p/.uet/x", "README"]
    assert f.firing(batch) == ["src/a.py", "src/b.py"]


def test_debounce_groups_bursts() -> None:
    """Changes closer than the window form one batch; a quiet gap starts another."""
    changes = [(0.0, "a"), (0.1, "b"), (0.3, "a"), (1.0, "c"), (1.2, "d")]
    batches = debounce(changes, 0.5)
    assert [(b.first, b.last, b.paths) for b in batches] == [
        (0.0, 0.3, ("a", "b")),
        (1.0, 1.2, ("c", "d")),
    ]


def test_a_burst_of_2000_writes_is_one_batch() -> None:
    """2,000 writes 1 ms apart give one batch, ready 0.5 s after the last one."""
    d = Debouncer(0.5, max_wait=60)
    for i in range(2000):
        d.add(i / 1000, f"f{i}")
        assert d.ready(i / 1000) is None
    assert d.ready(1.998 + 0.49) is None
    batch = d.ready(1.999 + 0.5)
    assert batch is not None
    assert len(batch.paths) == 2000
    assert d.ready(100.0) is None  # taken


def test_a_steady_stream_still_fires() -> None:
    """Changes every 0.1 s forever: a batch is ready max_wait after its first change."""
    d = Debouncer(0.5)  # max_wait defaults to ten windows
    t = 0.0
    ready = []
    while t < 12:
        d.add(t, "log.txt")
        if (b := d.ready(t)) is not None:
            ready.append(b.first)
        t = round(t + 0.1, 3)
    assert ready == [0.0, 5.1]  # the change at 5.0 closed the first batch


@given(
    st.lists(st.tuples(st.floats(0, 100, allow_nan=False), st.sampled_from("abcdef")), max_size=60),
    st.floats(0.01, 5),
)
def test_debounce_property(changes: list[tuple[float, str]], window: float) -> None:
    """Batches are in time order, cover every change once, and are separated by more than
    the window while changes inside a batch never are."""
    batches = debounce(changes, window)
    times = sorted(t for t, _ in changes)
    assert sum(1 for t in times if any(b.first <= t <= b.last for b in batches)) == len(times)
    for before, after in itertools.pairwise(batches):
        assert after.first - before.last > window
    for b in batches:
        inside = [t for t in times if b.first <= t <= b.last]
        assert all(y - x <= window for x, y in itertools.pairwise(inside))
        assert set(b.paths) == {p for t, p in changes if b.first <= t <= b.last}

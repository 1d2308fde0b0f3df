"""The agents table through the Store, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from uet.state.records import AgentRecord
from uet.state.store import Store


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    opened = Store.open(db_url)
    yield opened
    opened.close()


def agent(agent_id: str, created_at: float = 1.0, **fields: object) -> AgentRecord:
    values: dict[str, object] = {
        "id": agent_id,
        "status": "active",
        "repo": "/r",
        "path": f"/r/.uet/agents/{agent_id}",
        "branch": f"agent/{agent_id}",
        "base_ref": "main",
        "base_commit": "a" * 40,
        "target": "main",
        "created_at": created_at,
        "updated_at": created_at,
        "files_scope": ["src/**"],
        "depends_on": [],
    }
    values.update(fields)
    return AgentRecord(**values)  # type: ignore[arg-type]


def test_agents_round_trip_update_and_filter(store: Store) -> None:
    with store.transaction() as tx:
        tx.put_agent(agent("b", 2.0, depends_on=["a"]))
        tx.put_agent(agent("a", 1.0))
    with store.transaction() as tx:
        tx.update_agent("a", status="merged", merged_commit="c" * 40, updated_at=3.0)
    with store.reader() as tx:
        assert [a.id for a in tx.list_agents()] == ["a", "b"]  # by creation time
        assert [a.id for a in tx.list_agents(["active"])] == ["b"]
        merged = tx.get_agent("a")
        assert merged is not None
        assert (merged.status, merged.merged_commit, merged.updated_at) == ("merged", "c" * 40, 3.0)
        assert merged.files_scope == ["src/**"]
        b = tx.get_agent("b")
        assert b is not None
        assert b.depends_on == ["a"]
        assert tx.get_agent("ghost") is None
    with pytest.raises(ValueError, match="files_scope"), store.transaction() as tx:
        tx.update_agent("a", files_scope=["x"])


def test_a_removed_agent_s_id_can_be_used_again(store: Store) -> None:
    with store.transaction() as tx:
        tx.put_agent(agent("a", status="removed", archive_ref="refs/uet/archive/a"))
    with store.transaction() as tx:
        tx.put_agent(agent("a", 5.0, base_commit="b" * 40))
    with store.reader() as tx:
        [again] = tx.list_agents()
    assert (again.status, again.base_commit, again.archive_ref) == ("active", "b" * 40, None)

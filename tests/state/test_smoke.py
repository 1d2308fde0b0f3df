from uet.state.store import Store


def test_open_creates_schema_on_both_dialects(db_url: str) -> None:
    """A fresh database is created at the newest schema and takes events."""
    store = Store.open(db_url)
    with store.transaction() as tx:
        assert tx.insert_events([("x.y", 1.0, "r", None, None, {"a": 1})]) == [1]
    with store.reader() as tx:
        assert tx.count_events("r") == 1

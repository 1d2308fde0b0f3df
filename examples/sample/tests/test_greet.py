from greet import greet


def test_greets_by_name() -> None:
    assert greet("uet") == "Hello, uet!"


def test_blank_name_greets_the_world() -> None:
    assert greet("  ") == "Hello, world!"


def test_shouts() -> None:
    assert greet("uet", shout=True) == "HELLO, UET!"

from greet import greet


def test_greet() -> None:
    assert greet("Ada") == "Hello, Ada!"


def test_greet_unicode() -> None:
    assert greet("Zoë") == "Hello, Zoë!"

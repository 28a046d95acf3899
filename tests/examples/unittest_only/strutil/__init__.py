"""String helpers for the unittest-only example."""


def shout(text: str) -> str:
    return text.upper() + "!"


def words(text: str) -> list[str]:
    return text.split()

"""Greetings, in a src/ layout: tests import it through PYTHONPATH=/workspace/src."""


def greet(name: str) -> str:
    return f"Hello, {name}!"

import pytest
from calc import add, div, mul, sub


def test_add() -> None:
    assert add(2, 3) == 5


def test_sub() -> None:
    assert sub(2, 3) == -1


def test_mul() -> None:
    assert mul(4, 2.5) == 10


@pytest.mark.parametrize(("a", "b", "expected"), [(6, 3, 2), (1, 4, 0.25)])
def test_div(a: float, b: float, expected: float) -> None:
    assert div(a, b) == expected


def test_div_by_zero_raises() -> None:
    with pytest.raises(ZeroDivisionError):
        div(1, 0)

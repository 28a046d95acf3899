import pytest
from stats import mean, median, spread


def test_mean() -> None:
    assert mean([1, 2, 3, 4]) == 2.5


def test_mean_of_nothing_raises() -> None:
    with pytest.raises(ValueError):
        mean([])


def test_median_of_odd_count() -> None:
    assert median([3, 1, 2]) == 2


def test_spread() -> None:
    assert spread([4, 1, 9]) == 8

# Expected result, test by test (tests rely on these exact counts):
#   3 passed:  test_one_plus_one, TestStrings::test_upper, test_sum
#   2 failed:  test_wrong_arithmetic, TestStrings::test_wrong_lower
#   1 error:   test_uses_broken_fixture (its fixture raises)
#   1 skipped: test_skipped
import pytest


@pytest.fixture
def broken() -> int:
    raise RuntimeError("fixture failed on purpose")


def test_one_plus_one() -> None:
    assert 1 + 1 == 2


def test_sum() -> None:
    assert sum([1, 2, 3]) == 6


def test_wrong_arithmetic() -> None:
    assert 2 * 2 == 5


def test_uses_broken_fixture(broken: int) -> None:
    assert broken == 1


@pytest.mark.skip(reason="skipped on purpose")
def test_skipped() -> None:
    raise AssertionError("never runs")


class TestStrings:
    def test_upper(self) -> None:
        assert "a".upper() == "A"

    def test_wrong_lower(self) -> None:
        assert "A".lower() == "b"

# One test passes at once; the other sleeps for an hour, for timeout tests.
import time


def test_passes() -> None:
    assert True


def test_sleeps_for_an_hour() -> None:
    time.sleep(3600)

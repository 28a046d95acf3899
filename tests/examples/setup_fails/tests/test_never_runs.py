import patchbot_no_such_package_0000  # the tests need it, so set-up cannot leave it out


def test_never_runs_because_setup_fails() -> None:
    assert patchbot_no_such_package_0000

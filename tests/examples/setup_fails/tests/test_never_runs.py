def test_never_runs_because_setup_fails() -> None:
    assert True

import tomli_w


def test_dependency_from_requirements_is_installed() -> None:
    assert tomli_w.dumps({"answer": 42}) == "answer = 42\n"

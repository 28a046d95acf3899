"""The secrets scan: each token format found on added lines, never printed; no hit on hashes,
UUIDs, lock files or ordinary code."""

from __future__ import annotations

import base64
import hashlib
import random
import string
import subprocess
import uuid
from pathlib import Path

import pytest

from bot.policy.diff import parse_diff
from bot.policy.secrets_scan import scan_files, shannon_entropy

ROOT = Path(__file__).resolve().parents[2]


RNG = random.Random(6)
"""Seeded: the same strings every run, and none of them a real credential."""


def _rand(alphabet: str, n: int) -> str:
    return "".join(RNG.choice(alphabet) for _ in range(n))


ALNUM = string.ascii_letters + string.digits
HEX = "0123456789abcdef"
# Built at run time, so this file holds no credential-shaped literal.
TOKENS = {
    "GitHub token": [
        f"ghp_{_rand(ALNUM, 36)}",
        f"gho_{_rand(ALNUM, 36)}",
        f"ghs_{_rand(ALNUM, 36)}",
        f"ghu_{_rand(ALNUM, 36)}",
        f"github_pat_{_rand(ALNUM, 22)}_{_rand(ALNUM, 59)}",
    ],
    "AWS access key id": ["AKIA" + _rand(string.ascii_uppercase + string.digits, 16)],
    "Slack token": [f"xoxb-{_rand(string.digits, 12)}-{_rand(ALNUM, 24)}"],
    "Google API key": ["AIza" + _rand(ALNUM + "_-", 35)],
    "Stripe live key": ["sk_" + "live_" + _rand(ALNUM, 24)],
    "Anthropic API key": [f"sk-ant-api03-{_rand(ALNUM, 40)}"],
    "OpenAI-style API key": [f"sk-proj-{_rand(ALNUM, 40)}", f"sk-{_rand(ALNUM, 48)}"],
    "JSON web token": [
        "eyJ" + _rand(ALNUM, 20) + ".eyJ" + _rand(ALNUM, 30) + "." + _rand(ALNUM + "_-", 43)
    ],
    "private key": ["-----BEGIN " + "RSA PRIVATE KEY-----", "-----BEGIN " + "PRIVATE KEY-----"],
}
CASES = [(kind, token) for kind, tokens in TOKENS.items() for token in tokens]


def scan(repo, **kwargs):
    return scan_files(parse_diff(repo.diff()), **kwargs)


CASE_IDS = [f"{kind}-{n}" for n, (kind, _) in enumerate(CASES)]


@pytest.mark.parametrize(("kind", "token"), CASES, ids=CASE_IDS)
def test_each_token_format_is_found_on_the_added_line(make_repo, kind, token):
    repo = make_repo({"app/settings.py": "DEBUG = False\n"})
    repo.write("app/settings.py", f'DEBUG = False\n\nKEY = "{token}"\n')
    [finding] = scan(repo, high_entropy=False)

    assert (finding.path, finding.line, finding.kind, finding.removed) == (
        "app/settings.py",
        3,
        kind,
        False,
    )
    assert token not in str(finding)
    assert token[6:] not in finding.model_dump_json()


def test_aws_secret_key_is_found_by_its_name(make_repo):
    repo = make_repo({"deploy.cfg": "[aws]\n"})
    value = _rand(ALNUM + "/+", 40)
    repo.write("deploy.cfg", f"[aws]\naws_secret_access_key = {value}\n")
    [finding] = scan(repo, high_entropy=False)
    assert (finding.line, finding.kind) == (2, "AWS secret access key")


def test_a_credential_on_a_removed_line_is_reported_as_removed(make_repo):
    token = TOKENS["GitHub token"][0]
    repo = make_repo({"config.py": f"TOKEN = '{token}'\nOTHER = 1\n"})
    repo.write("config.py", "TOKEN = os.environ['TOKEN']\nOTHER = 1\n")
    [finding] = scan(repo)
    assert (finding.line, finding.removed, finding.kind) == (1, True, "GitHub token")


@pytest.mark.parametrize("length", [24, 32, 40, 56])
@pytest.mark.parametrize("alphabet", [ALNUM + "_-", ALNUM + "+/"], ids=["urlsafe", "base64"])
def test_random_strings_on_added_lines_are_found(make_repo, alphabet, length):
    values = [_rand(alphabet, length) for _ in range(20)]
    repo = make_repo({"client.py": "x = 1\n"})
    repo.write("client.py", "x = 1\n" + "".join(f'session = "{v}"\n' for v in values))
    found = {f.line for f in scan(repo) if f.kind == "high-entropy string"}
    assert len(found) >= 18  # about 96% of random strings score above the thresholds


def test_hex_secret_is_found_only_next_to_a_secret_word(make_repo):
    repo = make_repo({"a.py": "\n"})
    repo.write(
        "a.py",
        f'\nAPI_KEY = "{_rand(HEX, 40)}"\nexpected_sha = "{_rand(HEX, 40)}"\n',
    )
    assert [(f.line, f.kind) for f in scan(repo)] == [(2, "high-entropy hex string")]


def test_no_hit_on_lock_file_hashes(make_repo):
    def entry(n: int) -> str:
        sha256 = hashlib.sha256(str(n).encode()).hexdigest()
        sha512 = base64.b64encode(hashlib.sha512(str(n).encode()).digest()).decode()
        return (
            f'[[package]]\nname = "pkg{n}"\nversion = "1.{n}"\n'
            f'files = [{{file = "pkg{n}.whl", hash = "sha256:{sha256}"}}]\n'
            f'resolved = "https://registry.example/pkg{n}.tgz"\nintegrity = "sha512-{sha512}"\n'
        )

    lock = "".join(entry(n) for n in range(20))
    repo = make_repo({"poetry.lock": ""})
    repo.write("poetry.lock", lock)
    repo.write("uv.lock", lock)
    repo.write("package-lock.json", lock)
    assert scan(repo) == []


def test_no_hit_on_uuids_hashes_and_commit_ids_in_code(make_repo):
    lines = [
        f'RUN_ID = "{uuid.uuid4()}"',
        f"fixture_ids = ['{uuid.uuid4()}', '{uuid.uuid5(uuid.NAMESPACE_DNS, 'x')}']",
        f'EXPECTED_DIGEST = "{hashlib.sha256(b"data").hexdigest()}"',
        f"    uses: actions/checkout@{hashlib.sha1(b'x').hexdigest()}",
        f'commit = "{hashlib.sha1(b"y").hexdigest()}"',
        "def test_parse_returns_the_expected_value_for_VeryLongCamelCaseIdentifierName2():",
        "url = 'https://example.com/owner/repo/blob/main/src/module_name/file_v2.py'",
        "result = X509_NAME_get_index_by_NID(name, 13, -1)",
    ]
    repo = make_repo({"tests/test_ids.py": ""})
    repo.write("tests/test_ids.py", "\n".join(lines) + "\n")
    assert scan(repo) == []


def test_no_hit_on_this_projects_own_source():
    """Our own code (not the tests, whose fake credentials should hit), added as new files:
    real code full of regexes, hashes and identifiers."""
    tracked = subprocess.run(
        ["git", "ls-files", "bot", "bench", "sandbox_images", "policies"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    diff = []
    for rel in tracked:
        try:
            text = (ROOT / rel).read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError):
            continue
        body = "".join(f"+{line}\n" for line in text.splitlines())
        count = len(text.splitlines())
        diff.append(f"diff --git a/{rel} b/{rel}\nnew file mode 100644\n--- /dev/null\n")
        diff.append(f"+++ b/{rel}\n@@ -0,0 +1,{count} @@\n{body}")
    findings = scan_files(parse_diff("".join(diff)))
    assert len(tracked) > 50
    assert [str(f) for f in findings] == []


def test_entropy_of_known_strings():
    assert shannon_entropy("") == 0
    assert shannon_entropy("aaaa") == 0
    assert shannon_entropy("abcd") == pytest.approx(2.0)

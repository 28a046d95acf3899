"""The secrets scan: each token format found on added lines, never printed; no hit on hashes,
UUIDs, lock files or ordinary code."""

from __future__ import annotations

import base64
import codecs
import hashlib
import random
import string
import subprocess
import uuid
from pathlib import Path

import pytest

from bot.policy.diff import parse_diff
from bot.policy.secrets_formats import shannon_entropy
from bot.policy.secrets_scan import scan_files

ROOT = Path(__file__).resolve().parents[2]


RNG = random.Random(6)
"""Seeded: the same strings every run, and none of them a real credential."""


def _rand(alphabet: str, n: int, rng: random.Random = RNG) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


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


def _chunks(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def _evasions() -> dict[str, str]:
    """Sixteen ways to hide a credential from a line-by-line scan, each a file body whose line
    2 starts the credential. Pieces are 6-12 characters: too short to look random alone."""
    github = TOKENS["GitHub token"][0]
    anthropic = TOKENS["Anthropic API key"][0]
    aws = TOKENS["AWS access key id"][0]
    b64 = base64.b64encode(github.encode()).decode()
    hexed = github.encode().hex()
    quoted = ", ".join(f'"{piece}"' for piece in _chunks(github, 8))
    own = random.Random(16)  # RNG's sequence stays what the tests above were written with
    password = _rand(ALNUM, 6, own) + "#!" + _rand(ALNUM, 8, own)
    lower = _rand(string.ascii_lowercase + string.digits, 26, own)
    return {
        "concatenated": "x = 1\nTOKEN = " + " + ".join(f'"{p}"' for p in _chunks(github, 8)),
        "side by side": "x = 1\nTOKEN = " + " ".join(f'"{p}"' for p in _chunks(github, 10)),
        "across lines": "x = (\n" + "".join(f'    "{p}"\n' for p in _chunks(github, 9)) + ")",
        "joined list": f"x = 1\nTOKEN = ''.join([{quoted}])",
        "through variables": f'x = 1\nprefix = "{anthropic[:7]}"\n'
        + "".join(f'part{n} = "{p}"\n' for n, p in enumerate(_chunks(anthropic[7:], 12)))
        + "KEY = prefix + part0 + part1 + part2 + part3",
        "base64": f'x = 1\nTOKEN = base64.b64decode("{b64}").decode()',
        "base64 in pieces": "x = 1\nTOKEN = b64decode("
        + " + ".join(f'"{p}"' for p in _chunks(b64, 12))
        + ")",
        "hex": f'x = 1\nTOKEN = bytes.fromhex("{hexed}").decode()',
        "reversed": f'x = 1\nTOKEN = "{github[::-1]}"[::-1]',
        "escaped": 'x = 1\nTOKEN = "' + "".join(f"\\x{ord(c):02x}" for c in github) + '"',
        "character codes": "x = 1\nTOKEN = bytes(["
        + ",\n    ".join(str(ord(c)) for c in github)
        + "]).decode()",
        "ROT13": f'x = 1\nTOKEN = codecs.decode("{codecs.encode(github, "rot13")}", "rot13")',
        "invisible characters": 'x = 1\nTOKEN = "' + "\u200b".join(_chunks(github, 4)) + '"',
        "private key header in pieces": 'x = 1\nHEADER = "-----BEGIN " + "RSA PRIVATE" + '
        '" KEY-----"',
        "password by its name": f'x = 1\nDB_PASSWORD = "{password}"',
        "random value by its name, lower case": f'x = 1\nAPI_KEY = "{lower}"',
        "password in a URL": f'x = 1\nDSN = "postgresql://app:{password}@db.internal:5432/app"',
        "percent-encoded": 'x = 1\nTOKEN = unquote("'
        + "".join(f"%{ord(c):02X}" for c in aws)
        + '")',
    }


EVASIONS = _evasions()


@pytest.mark.parametrize("name", list(EVASIONS))
def test_credentials_hidden_from_a_line_scan_are_found(make_repo, name):
    repo = make_repo({"app/config.py": "\n"})
    repo.write("app/config.py", EVASIONS[name] + "\n")
    findings = scan(repo)
    assert [f.line for f in findings] == [2], [str(f) for f in findings]
    for text in (str(findings[0]), findings[0].model_dump_json()):
        assert not any(part in text for part in _chunks(TOKENS["GitHub token"][0], 6)[1:])


def test_a_bare_value_by_its_name_counts_in_configuration_not_in_code(make_repo):
    own = random.Random(18)
    value = _rand(string.ascii_lowercase + string.digits, 26, own)
    repo = make_repo({"README.md": "hello\n"})
    repo.write("deploy/values.yml", f"image: app\napi_key: {value}\n")
    repo.write(".env.production", f"DEBUG=0\nAPI_TOKEN={value}\n")
    repo.write("app/client.py", f"x = 1\napi_key = {value}\n")  # a variable, in code
    assert [str(f) for f in scan(repo)] == [
        ".env.production line 2: secret-like value of `API_TOKEN`",
        "deploy/values.yml line 2: secret-like value of `api_key`",
    ]


def test_a_credential_the_diff_only_moves_is_not_new(make_repo):
    """Re-indenting a fixture the repository already had neither adds nor removes a key."""
    token = TOKENS["GitHub token"][1]
    repo = make_repo({"tests/fixtures.py": f'TOKEN = "{token}"\n'})
    repo.write("tests/fixtures.py", f'if True:\n    TOKEN = "{token}"\n')
    assert scan(repo) == []


def test_placeholders_and_documented_examples_are_not_credentials(make_repo):
    lines = [
        'AWS_KEY = "AKIAIOSFODNN7EXAMPLE"',
        'aws_secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"',
        'FAKE = "ghp_' + "x" * 36 + '"',
        'OPENAI = "sk-' + "0" * 48 + '"',
        'STRIPE = "sk_' + "live_" + "1234567890abcdef12345678" + '"',
        'password = "P@ssw0rd123!"',
        'db_password = "changeme-please"',
        'api_key = "<your-api-key>"',
        'token = os.environ["API_TOKEN"]',
        "secret: ${{ secrets.DEPLOY_KEY }}",
        "token: str | None = None",
        "TOKEN = web.RequestKey('simulator_token', Token)",
        'DATABASE_URL = "postgresql://postgres:postgres@localhost:5432/app"',
        'URL = "https://user:${PASSWORD}@example.com/"',
        'auth_header = f"Bearer {token}"',
        'password_hash = "pbkdf2_sha256$600000$c2FsdHNhbHQ$abcdefghijk"',
        f'session_token = "{uuid.uuid4()}"',
        "--hash=sha256:" + hashlib.sha256(b"pkg").hexdigest(),
        'REGIONS = ["ASIA", "EUROPE", "AMERICAS", "AFRICA"]',
        "See `xoxb-` tokens, `AIza` keys, `sk-ant-` and `sk-` keys.",
    ]
    repo = make_repo({"tests/test_settings.py": "\n", "docs/tokens.md": "\n"})
    repo.write("tests/test_settings.py", "\n".join(lines[:-1]) + "\n")
    repo.write("docs/tokens.md", lines[-1] + "\n")
    assert [str(f) for f in scan(repo)] == []

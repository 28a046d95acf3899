"""Reading policy files: the server's (`policies/*.yml`) and a repository's
`.github/patchbot.yml`. Every error names the file, the line, the key and the fix."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from bot.errors import ConfigError
from bot.policy.merge import Merged, merge
from bot.policy.model import Policy
from bot.repo_files import read_repo_text

REPO_POLICY_PATH = ".github/patchbot.yml"
REPO_POLICY_MAX_BYTES = 64 * 1024
"""A bigger `.github/patchbot.yml` is refused (it is untrusted input)."""
POLICY_ENV = "PATCHBOT_POLICY"
MAX_FLOW_DEPTH = 20
"""Deepest `[`/`{` nesting read; a policy needs two or three."""


class PolicyProblem(BaseModel):
    """One thing wrong with a policy file."""

    source: str
    """The file, as the user knows it."""
    line: int | None = None
    """1-based line of the key or value at fault, when known."""
    key: str = ""
    """Dotted key, e.g. `budgets.cost_usd`; empty for the whole file."""
    message: str
    fix: str

    def __str__(self) -> str:
        where = f"{self.source} line {self.line}" if self.line else self.source
        key = f" `{self.key}`:" if self.key else ""
        return f"{where}:{key} {self.message}\n  How to fix: {self.fix}"


class PolicyError(ConfigError):
    """A policy file that is not valid YAML, has unknown keys or values of the wrong type."""

    def __init__(self, problems: list[PolicyProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))


def default_policy_path(environ: Mapping[str, str] | None = None) -> Path:
    """`PATCHBOT_POLICY`, else `policies/default.yml` beside the `bot` package."""
    configured = (os.environ if environ is None else environ).get(POLICY_ENV)
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2] / "policies" / "default.yml"


def load_policy_file(path: Path) -> Policy:
    """The server policy in `path`; PolicyError names what is wrong and where."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise PolicyError(
            [
                PolicyProblem(
                    source=str(path),
                    message=f"cannot be read ({error})",
                    fix=f"point --policy or {POLICY_ENV} at a readable policy file, "
                    "e.g. policies/default.yml",
                )
            ]
        ) from error
    data, root = read_yaml(text, str(path))
    return validate(data, str(path), root)


def load_repo_data(checkout: Path) -> tuple[dict[str, Any], yaml.Node | None] | None:
    """The checkout's `.github/patchbot.yml` as data, or None when there is none (a file
    reached through a link, or too big, reads as none)."""
    text = read_repo_text(checkout, REPO_POLICY_PATH, limit=REPO_POLICY_MAX_BYTES)
    if text is None:
        return None
    return read_yaml(text, REPO_POLICY_PATH)


class _AliasRefused(yaml.composer.ComposerError):
    pass


class _NoAliasLoader(yaml.SafeLoader):
    """Refuses aliases (`*name`): they can make a small file expand without bound."""

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
            raise _AliasRefused(None, None, "aliases (`*name`) are not allowed", mark)
        return super().compose_node(parent, index)  # type: ignore[arg-type]


def read_yaml(text: str, source: str) -> tuple[dict[str, Any], yaml.Node | None]:
    """The mapping in `text` and its node tree (for line numbers). Anchors and aliases are
    refused (they can make a small file expand without bound), and so are duplicate keys."""
    fix = "fix the YAML at that line (indentation, a missing `:`, an unclosed quote)"
    if _flow_depth(text) > MAX_FLOW_DEPTH:
        raise PolicyError(
            [PolicyProblem(source=source, message="nests too deeply", fix="flatten the file")]
        )
    loader = _NoAliasLoader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except RecursionError as error:  # deep block nesting
        raise PolicyError(
            [PolicyProblem(source=source, message="nests too deeply", fix="flatten the file")]
        ) from error
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(error, "problem", None) or str(error)
        message = f"is not valid YAML: {problem}"
        context, start = getattr(error, "context", None), getattr(error, "context_mark", None)
        if context and start is not None and start.line + 1 != line:
            message += f" ({context} on line {start.line + 1})"
        if isinstance(error, _AliasRefused):
            fix = "write the value out instead of using anchors and aliases"
        raise PolicyError(
            [PolicyProblem(source=source, line=line, message=message, fix=fix)]
        ) from error
    finally:
        loader.dispose()
    if data is None:
        return {}, None
    if not isinstance(data, dict):
        raise PolicyError(
            [
                PolicyProblem(
                    source=source,
                    line=1,
                    message=f"must be a mapping of settings, not a {type(data).__name__}",
                    fix="start the file with keys such as `budgets:` or `paths:` "
                    "(see policies/README.md)",
                )
            ]
        )
    _check_duplicates(root, source)
    return data, root


def _flow_depth(text: str) -> int:
    """How deep `[`/`{` nest outside quotes (PyYAML's scanner slows quadratically with it)."""
    depth = deepest = 0
    quote = ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth = max(0, depth - 1)
    return deepest


def _check_duplicates(node: yaml.Node | None, source: str, path: str = "") -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            name = str(key.value)
            dotted = f"{path}.{name}" if path else name
            if name in seen:
                raise PolicyError(
                    [
                        PolicyProblem(
                            source=source,
                            line=key.start_mark.line + 1,
                            key=dotted,
                            message="is given twice",
                            fix="keep one of the two entries",
                        )
                    ]
                )
            seen.add(name)
            _check_duplicates(value, source, dotted)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _check_duplicates(item, source, path)


def validate(
    data: Mapping[str, Any], source: str, root: yaml.Node | None, *, partial: bool = False
) -> Policy:
    """`data` as a Policy; `partial` skips checks across fields (a repository's wishes are
    checked against the server policy by the merge instead)."""
    try:
        return Policy.model_validate(dict(data), context={"partial": partial})
    except ValidationError as error:
        problems = [
            PolicyProblem(
                source=source,
                line=locate(root, item["loc"]),
                key=".".join(str(part) for part in item["loc"]),
                message=_message(item),
                fix=_fix(item),
            )
            for item in error.errors()
        ]
        raise PolicyError(problems) from error


def locate(root: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """The 1-based line of the key (or list item) at `loc`, or of its nearest parent found."""
    node, line = root, None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            entry = next(((k, v) for k, v in node.value if str(k.value) == str(part)), None)
            if entry is None:
                break
            line, node = entry[0].start_mark.line + 1, entry[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                break
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _message(item: Any) -> str:
    if item["type"] == "extra_forbidden":
        return "is not a known key"
    given = item.get("input")
    shown = "" if isinstance(given, dict | list) else f" (got {given!r})"
    return f"{item['msg'][:1].lower()}{item['msg'][1:]}{shown}"


def _fix(item: Any) -> str:
    loc = [part for part in item["loc"] if isinstance(part, str)]
    model: type[BaseModel] = Policy
    for part in loc[:-1]:
        field = model.model_fields.get(part)
        annotation = field.annotation if field else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            break
        model = annotation
    name = loc[-1] if loc else ""
    if item["type"] == "extra_forbidden":
        known = ", ".join(model.model_fields)
        return f"remove `{name}` or fix its spelling; the keys here are: {known}"
    field = model.model_fields.get(name)
    meaning = f" It means: {field.description}" if field and field.description else ""
    return f"give `{name}` a valid value (see policies/README.md).{meaning}"


def effective_policy(server: Policy, checkout: Path | None) -> Merged:
    """The server policy tightened by the checkout's `.github/patchbot.yml` (none: the server
    policy as it is). PolicyError when that file is broken: the run must escalate."""
    found = load_repo_data(checkout) if checkout is not None else None
    if found is None:
        return Merged(policy=server, notes=[])
    data, root = found
    if "setup_network" in data:  # the spelling of the first `.github/patchbot.yml`
        data = dict(data)
        sandbox = data.get("sandbox")
        if sandbox is None or (isinstance(sandbox, dict) and "setup_network" not in sandbox):
            data["sandbox"] = {**(sandbox or {}), "setup_network": data.pop("setup_network")}
    wanted = validate(overlay(server.model_dump(), data), REPO_POLICY_PATH, root, partial=True)
    return merge(server, wanted)


def overlay(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """`base` with `over` laid on it: mappings merge key by key, anything else replaces."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = overlay(out[key], value)
        else:
            out[key] = value
    return out

"""`patchbot sandbox ...` and `patchbot images ...`: run a repository's code in the sandbox."""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bot.errors import ConfigError
from bot.sandbox.config import SandboxConfig
from bot.sandbox.models import Outcome, TestReport


def register(subparsers: Any) -> None:
    sandbox = subparsers.add_parser("sandbox", help="run a repository's tests or a command")
    commands = sandbox.add_subparsers(dest="sandbox_command", metavar="COMMAND", required=True)

    test = commands.add_parser("test", help="set up a repository and run its tests")
    test.add_argument("path", type=Path, help="a git checkout (it is copied, never changed)")
    test.add_argument("--json", action="store_true", help="print the report as JSON")
    test.add_argument("--timeout", type=float, help="seconds the test suite may take")
    test.add_argument("--image", default=None, help="pin a sandbox image (default: by Python)")
    test.add_argument("--no-setup-network", action="store_true", help="set up offline")
    test.set_defaults(run=_test)

    run = commands.add_parser(
        "exec",
        help="run one command with a copy of PATH at /workspace",
        usage="patchbot sandbox exec [-h] [--timeout S] [--image NAME] PATH -- CMD...",
    )
    run.add_argument(
        "path", type=Path, help="a git checkout (it is copied, never changed) at /workspace"
    )
    run.add_argument("--timeout", type=float, default=600.0, help="seconds (exit 124 after)")
    run.add_argument("--image", default="python", help="sandbox image (default: python)")
    run.set_defaults(run=_exec, takes_command=True)

    gc = commands.add_parser("gc", help="remove what dead processes left: sandboxes, checkouts")
    gc.add_argument("--all", action="store_true", help="also remove live sandboxes")
    gc.add_argument("--volumes", action="store_true", help="also drop the set-up cache")
    gc.set_defaults(run=_gc)

    images = subparsers.add_parser("images", help="build the sandbox images")
    image_commands = images.add_subparsers(dest="images_command", metavar="COMMAND", required=True)
    build = image_commands.add_parser("build", help="build images whose folder changed")
    build.add_argument("names", nargs="*", help="image names (default: all)")
    build.add_argument("--force", action="store_true", help="rebuild even if unchanged")
    build.set_defaults(run=_images_build)


def checkout_root(path: Path) -> Path:
    """`path` itself, after checking it is inside a git work tree."""
    if not path.is_dir():
        raise ConfigError(f"{path} is not a directory; give the path of a git checkout")
    done = subprocess.run(
        ["git", "-C", str(path), "rev-parse", "--is-inside-work-tree"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0 or done.stdout.strip() != "true":
        raise ConfigError(f"{path} is not inside a git repository; give a checkout's path")
    return path.resolve()


def format_report(report: TestReport) -> str:
    lines = []
    for case in report.cases:
        if case.outcome in (Outcome.FAILED, Outcome.ERROR):
            message = case.message.strip().splitlines()[:1]
            lines.append(
                f"{case.outcome.value.upper()} {case.id}" + (f": {message[0]}" if message else "")
            )
    if report.timed_out:
        lines.append(f"the test suite was killed at its timeout after {report.duration:.1f} s")
    elif not report.cases:
        lines.append(f"no tests were found or run (`{report.command}` exited {report.exit_code})")
        lines.extend(report.output_tail.strip().splitlines()[-10:])
    lines.append(report.summary_line())
    return "\n".join(lines)


def _test(args: argparse.Namespace) -> int:
    from bot.sandbox.docker import open_sandbox
    from bot.sandbox.local import local_sandbox
    from bot.sandbox.workspace import copied_checkout

    source = checkout_root(args.path)
    config = local_sandbox(source, image=args.image, setup_network=not args.no_setup_network)

    def show(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    async def run() -> TestReport:
        with copied_checkout(source) as workspace:
            async with open_sandbox(workspace, config, progress=show) as sandbox:
                how = "reused" if sandbox.setup.cached else "installed"
                print(f"set-up {how} in {sandbox.setup.duration:.1f} s", file=sys.stderr)
                return await sandbox.run_tests(timeout=args.timeout)

    report = asyncio.run(run())
    print(report.model_dump_json(indent=2) if args.json else format_report(report))
    return 0 if report.all_passed else 1


def _exec(args: argparse.Namespace) -> int:
    import shlex

    from bot.sandbox.docker import open_sandbox
    from bot.sandbox.workspace import copied_checkout

    argv = args.rest
    if not argv:
        raise ConfigError("no command given; usage: patchbot sandbox exec PATH -- CMD...")
    source = checkout_root(args.path)

    def show(stream: str, text: str) -> None:
        out = sys.stdout if stream == "stdout" else sys.stderr
        out.write(text)
        out.flush()

    async def run() -> int:
        config = SandboxConfig(image=args.image)
        with copied_checkout(source) as workspace:
            async with open_sandbox(workspace, config) as sandbox:
                result = await sandbox.exec(shlex.join(argv), timeout=args.timeout, on_output=show)
        if result.timed_out:  # its exit code is then 124, as `timeout` gives
            print(f"patchbot: killed after the {args.timeout:g} s timeout", file=sys.stderr)
        return result.exit_code

    return asyncio.run(run())


def _gc(args: argparse.Namespace) -> int:
    from bot.sandbox.cleanup import collect_garbage
    from bot.sandbox.docker import docker_client
    from bot.settings import Settings

    work_root = Settings.from_env().data_dir / "work"
    removed = collect_garbage(
        docker_client(), everything=args.all, volumes=args.volumes, work_root=work_root
    )
    print(f"removed {removed}")
    return 0


def _images_build(args: argparse.Namespace) -> int:
    from bot.sandbox import images
    from bot.sandbox.docker import docker_client
    from bot.sandbox.usr_volume import make_usr_volume, remove_stale_usr_volumes

    client = docker_client()
    specs = images.discover(images.default_images_dir())
    unknown = set(args.names) - {spec.name for spec in specs}
    if unknown:
        raise ConfigError(f"no sandbox image folder named {', '.join(sorted(unknown))}")
    for spec in specs:
        if args.names and spec.name not in args.names:
            continue
        if not args.force and images.is_current(spec, client):
            print(f"{spec.name}: up to date ({spec.tag})")
        else:
            print(f"{spec.name}: building ...", file=sys.stderr, flush=True)
            started = time.monotonic()
            images.build(spec, client, lambda text: print(text, file=sys.stderr, flush=True))
            print(f"{spec.name}: built in {time.monotonic() - started:.0f} s ({spec.tag})")
        started = time.monotonic()
        if make_usr_volume(client, client.images.get(spec.tag)):
            print(f"{spec.name}: /usr volume made in {time.monotonic() - started:.1f} s")
    remove_stale_usr_volumes(client)
    return 0

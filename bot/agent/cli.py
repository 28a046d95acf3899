"""`patchbot scripted-model`: serve a recorded trajectory as an OpenAI-compatible model."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "scripted-model",
        help="serve a trajectory file as an OpenAI chat-completions model on 127.0.0.1",
        description="Answers each chat-completions request with the next assistant message "
        "of TRAJECTORY (one JSON chat message a line). Use it with "
        "`--model openai/scripted --api-base http://127.0.0.1:PORT/v1`.",
    )
    parser.add_argument("trajectory", type=Path, metavar="TRAJECTORY.jsonl")
    parser.add_argument("--port", type=int, default=8001, help="0 picks a free port")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import asyncio

    from bot.agent.scripted import ScriptedModel, ScriptedServer, load_trajectory

    model = ScriptedModel(load_trajectory(args.trajectory))

    async def serve() -> None:
        async with ScriptedServer(model, args.port) as server:
            print(f"scripted model: {len(model.messages)} replies at {server.api_base}", flush=True)
            await asyncio.Event().wait()

    asyncio.run(serve())
    return 0

"""A simulated GitHub at the HTTP level: REST, git smart HTTP, webhooks and fault injection."""

from bot.testing.simulator.context import RecordedRequest
from bot.testing.simulator.faults import Fault, Faults
from bot.testing.simulator.keys import generate_private_key
from bot.testing.simulator.receiver import WebhookReceiver
from bot.testing.simulator.server import GitHubSimulator

__all__ = [
    "Fault",
    "Faults",
    "GitHubSimulator",
    "RecordedRequest",
    "WebhookReceiver",
    "generate_private_key",
]

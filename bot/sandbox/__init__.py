"""The sandbox: the only place repository code runs, hardened and cut off from the network."""

from bot.sandbox.config import SandboxConfig
from bot.sandbox.models import ExecResult, Outcome, TestCase, TestReport
from bot.sandbox.protocol import Sandbox

__all__ = ["ExecResult", "Outcome", "Sandbox", "SandboxConfig", "TestCase", "TestReport"]

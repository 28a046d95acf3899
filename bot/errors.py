"""The one root of Patchbot's exceptions; subclasses also inherit the matching built-in."""


class PatchbotError(Exception):
    """Something Patchbot cannot do; the message says what and how to fix it."""


class ConfigError(PatchbotError, ValueError):
    """A setting, policy or command-line argument is invalid."""


class SandboxError(PatchbotError, RuntimeError):
    """The sandbox could not be built, started or used."""


class ImageBuildError(SandboxError):
    """A sandbox image failed to build."""


class SetupFailed(SandboxError):
    """The repository's set-up phase (installing its dependencies) failed."""

    def __init__(self, message: str, report: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.report = report
        """The set-up's report (`bot.setup.model.SetupReport` as a dict): every try and why
        it failed."""

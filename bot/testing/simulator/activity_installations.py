"""People installing, suspending and uninstalling the app, and choosing the repositories it
may reach, each followed by the webhook GitHub sends (`installation`,
`installation_repositories`)."""

from __future__ import annotations

from collections.abc import Iterable

from bot.testing.simulator.deliveries import Acting, Delivery
from bot.testing.simulator.payloads import installation_payload, installation_repositories_payload
from bot.testing.simulator.state import Installation, now_iso


def _installation(github: Acting, installation_id: int) -> Installation:
    installation = github.state.installations.get(installation_id)
    if installation is None:
        raise KeyError(f"no installation {installation_id}; add_installation() it first")
    return installation


class InstallationActivity:
    """Acting helpers of `GitHubSimulator` about the app's installations: each changes the
    state (except `announce_installation`), then delivers the webhook GitHub would send."""

    async def announce_installation(
        self: Acting, installation_id: int, *, action: str = "created", sender: str | None = None
    ) -> Delivery:
        """Deliver `installation` / `action` about the installation as it is (GitHub sends
        `created` when the app is installed); the sender is its account unless named."""
        installation = _installation(self, installation_id)
        who = self.state.user(sender) if sender else installation.account
        payload = installation_payload(self.state, self.urls, installation, action, who)
        return await self.send_event("installation", payload)

    async def suspend_installation(
        self: Acting, installation_id: int, *, by: str, suspended: bool = True
    ) -> Delivery:
        """`by` suspends the installation (or with `suspended=False` lifts the suspension), and
        GitHub delivers `installation` / `suspend` (`unsuspend`). A suspended installation gets
        no new tokens (403)."""
        installation = _installation(self, installation_id)
        user = self.state.user(by)
        installation.suspended_at = now_iso() if suspended else None
        installation.suspended_by = user if suspended else None
        action = "suspend" if suspended else "unsuspend"
        payload = installation_payload(self.state, self.urls, installation, action, user)
        return await self.send_event("installation", payload)

    async def uninstall(self: Acting, installation_id: int, *, by: str) -> Delivery:
        """`by` uninstalls the app: the installation and its tokens are gone, and GitHub
        delivers `installation` / `deleted`."""
        installation = _installation(self, installation_id)
        del self.state.installations[installation_id]
        tokens = self.state.tokens
        for value in [v for v, token in tokens.items() if token.installation_id == installation_id]:
            del tokens[value]
        user = self.state.user(by)
        payload = installation_payload(self.state, self.urls, installation, "deleted", user)
        return await self.send_event("installation", payload)

    async def change_installation_repositories(
        self: Acting,
        installation_id: int,
        *,
        add: Iterable[str] = (),
        remove: Iterable[str] = (),
        by: str,
    ) -> list[Delivery]:
        """`by` gives the installation access to the repositories `add` and takes it from
        `remove`; GitHub delivers `installation_repositories` / `added` and / `removed`
        (for each list that is not empty)."""
        installation = _installation(self, installation_id)
        user = self.state.user(by)
        added = [self.repo(name).full_name for name in add]
        removed = [self.repo(name).full_name for name in remove]
        installation.repositories = (installation.repositories | set(added)) - set(removed)
        deliveries = []
        for action, names in (("added", added), ("removed", removed)):
            if names:
                payload = installation_repositories_payload(
                    self.state, self.urls, installation, action, names, user
                )
                deliveries.append(await self.send_event("installation_repositories", payload))
        return deliveries

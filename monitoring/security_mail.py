"""Security emails to users: a new sign-in address, secrets changed or revealed, a
deployment blocked, an app rolled back, their data exported.

Mail goes only to a verified address (an unverified one could be anybody's);
operator-provisioned users have none and get nothing. A failure to mail is
logged and never undoes or blocks the action it reports.
"""

from __future__ import annotations

import logging
from datetime import datetime

from store.mail_delivery import Mailer
from store.users import UserRepository

log = logging.getLogger(__name__)


class SecurityMail:
    """Compose and send the security notices (through the outbox)."""

    def __init__(self, users: UserRepository, mailer: Mailer, *, base_url: str) -> None:
        self._users = users
        self._mailer = mailer
        self._base_url = base_url.rstrip("/")

    async def _send(self, user_id: str, subject: str, body: str) -> bool:
        try:
            user = await self._users.get(user_id)
            if user is None or not user.verified or user.email is None:
                return False
            await self._mailer.send(
                user.email,
                subject,
                body + "\n\nIf this was not you, log out everywhere "
                f"(POST {self._base_url}/v1/auth/logout-everywhere), revoke your tokens"
                " and tell us: see /.well-known/security.txt.\n",
            )
        except Exception as err:  # the notice must never break what it reports
            log.warning("security mail to %s not sent: %s", user_id, type(err).__name__)
            return False
        return True

    async def new_sign_in(self, user_id: str, client_ip: str | None, at: datetime) -> bool:
        """A login from an address this account never used before."""
        return await self._send(
            user_id,
            "New sign-in to your MicroBuilder account",
            f"Your account signed in from a new address: {client_ip or 'unknown'}"
            f" at {at:%Y-%m-%d %H:%M} UTC.",
        )

    async def secret_event(
        self, user_id: str, app_id: str, name: str, what: str, client_ip: str | None
    ) -> bool:
        """A secret was set, deleted or revealed (``what``)."""
        return await self._send(
            user_id,
            f"Secret {name} of {app_id} was {what}",
            f"The secret {name} of your app {app_id} was {what}"
            f" (from {client_ip or 'an unknown address'}). Its value is never sent by mail.",
        )

    async def deployment_blocked(self, user_id: str, app_id: str, reason: str) -> bool:
        """Moderation refused a prompt."""
        return await self._send(
            user_id,
            f"A deployment of {app_id} was blocked",
            f"Moderation blocked a deployment of your app {app_id}: {reason}."
            " Nothing was generated or deployed.",
        )

    async def rolled_back(self, user_id: str, app_id: str, version: int, reason: str) -> bool:
        """The app now serves an earlier release."""
        return await self._send(
            user_id,
            f"{app_id} was rolled back to v{version}",
            f"Your app {app_id} now serves v{version}. Why: {reason}.",
        )

    async def data_exported(self, user_id: str, export_id: str, requested_by: str) -> bool:
        """A copy of everything we hold about the user was made."""
        by = "you" if requested_by == user_id else f"an operator ({requested_by})"
        return await self._send(
            user_id,
            "Your MicroBuilder data was exported",
            f"An export of all the data we hold about you ({export_id}) was made by {by}.",
        )

"""The console's settings, read once from ``console:`` in ``gateway.yaml`` (durations in seconds)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from opp.compile.plan import Plan
from opp.config.durations import parse_duration
from opp.config.schema import ConsoleOidcConfig, WebhookConfig

__all__ = ["ConsoleSettings", "WebhookTarget"]


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    """One configured webhook with its signing secret (read from the environment)."""

    config: WebhookConfig
    secret: bytes | None
    """None when ``secret_env`` is unset in the environment: nothing is sent to this hook."""


@dataclass(frozen=True, slots=True)
class ConsoleSettings:
    enabled: bool
    public_url: str
    idle_s: float
    max_s: float
    link_ttl_s: float
    queue_refresh_s: float
    expiring_soon_s: float
    webhook_timeout_s: float
    webhook_max_attempts: int
    oidc: ConsoleOidcConfig | None
    webhooks: tuple[WebhookTarget, ...]

    @property
    def secure_cookies(self) -> bool:
        """Cookies carry ``Secure`` when the console is served over https."""
        return self.public_url.startswith("https://")

    @property
    def redirect_uri(self) -> str:
        if self.oidc is not None and self.oidc.redirect_uri:
            return self.oidc.redirect_uri
        return f"{self.public_url}/console/auth/callback"

    def url(self, path: str) -> str:
        """An absolute link to a console page (for notifications)."""
        return f"{self.public_url}{path}"

    @classmethod
    def of(cls, plan: Plan) -> ConsoleSettings:
        console = plan.config.console
        hooks = tuple(
            WebhookTarget(hook, secret.encode() if (secret := os.environ.get(hook.secret_env)) else None)
            for hook in console.webhooks
        )
        return cls(
            enabled=console.enabled,
            public_url=plan.oauth.public_url.rstrip("/"),
            idle_s=parse_duration(console.session_idle),
            max_s=parse_duration(console.session_max),
            link_ttl_s=parse_duration(console.link_ttl),
            queue_refresh_s=parse_duration(console.queue_refresh),
            expiring_soon_s=parse_duration(console.expiring_soon),
            webhook_timeout_s=parse_duration(console.webhook_timeout),
            webhook_max_attempts=console.webhook_max_attempts,
            oidc=console.oidc,
            webhooks=hooks,
        )

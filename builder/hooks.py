"""The controller's builder hooks, called with the shared builder secret.

The controller owns all platform state; the builder only asks it: whose key is this, may
this user push to this app (and with which config), and here is a new build.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

from builder.errors import HookError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PushGrant:
    user: str
    app: str
    config: dict[str, str] = field(default_factory=dict)
    app_id: str | None = None  # the app's identity (uuid): a re-created app of the same name is another app


class ControllerHooks:
    """``requests.Session`` passed in; one instance is shared by all SSH sessions."""

    def __init__(self, session, base_url: str, secret: str, timeout: float = 30.0):
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.secret = secret
        self.timeout = timeout

    def _post(self, path: str, body: dict, timeout: float | None = None) -> tuple[int, dict]:
        import requests

        try:
            response = self.session.post(f"{self.base_url}/v1/hooks/{path}", json=body,
                                         headers={"X-Deis-Builder-Secret": self.secret},
                                         timeout=timeout or self.timeout)
        except requests.RequestException as exc:
            log.error("controller hook %s failed: %s", path, exc)
            raise HookError(0, "the Deis controller is not reachable; try again later") from exc
        try:
            payload = response.json()
        except ValueError:
            payload = {"detail": response.text.strip()[:200]}
        return response.status_code, payload if isinstance(payload, dict) else {"detail": str(payload)}

    def _refuse(self, path: str, status: int, payload: dict):
        detail = payload.get("detail") or f"HTTP {status}"
        if status == 401:
            log.error("controller refused the builder secret on hooks/%s", path)
            detail = "the builder is misconfigured (the controller refused its secret); tell the operator"
        elif status >= 500:
            log.error("controller hook %s: HTTP %d %s", path, status, detail)
            detail = f"the Deis controller failed ({detail})"
        raise HookError(status, detail)

    def user_for_key(self, key_fingerprint: str) -> str | None:
        status, payload = self._post("key", {"fingerprint": key_fingerprint})
        if status == 200:
            return payload["user"]
        if status == 404:
            return None
        self._refuse("key", status, payload)

    def authorize_push(self, key_fingerprint: str, app: str) -> PushGrant:
        status, payload = self._post("push", {"fingerprint": key_fingerprint, "app": app})
        if status != 200:
            self._refuse("push", status, payload)
        config = {str(k): str(v) for k, v in (payload.get("config") or {}).items()}
        return PushGrant(user=payload["user"], app=payload.get("app", app), config=config, app_id=payload.get("uuid"))

    def authorize_fetch(self, key_fingerprint: str, app: str) -> PushGrant:
        """May this key's user fetch the app's repository (its owner or an administrator)?"""
        status, payload = self._post("fetch", {"fingerprint": key_fingerprint, "app": app})
        if status != 200:
            self._refuse("fetch", status, payload)
        return PushGrant(user=payload["user"], app=payload.get("app", app), app_id=payload.get("uuid"))

    def register_build(self, build: dict, timeout: float = 60.0) -> dict:
        """Create the build and its release; the answer names the release's deploy (a job) to follow."""
        status, payload = self._post("builds", build, timeout=timeout)
        if status not in (200, 201):
            self._refuse("builds", status, payload)
        return payload

"""A small client for the controller's REST API."""
from __future__ import annotations

import requests

from client.errors import ClientError


class API:
    def __init__(self, url: str, token: str | None = None, timeout: float = 300):
        self.url = url.rstrip("/")
        self.session = requests.Session()
        self.timeout = timeout
        if token:
            self.session.headers["Authorization"] = f"token {token}"

    def request(self, method: str, path: str, json=None):
        try:
            response = self.session.request(method, f"{self.url}/v1{path}", json=json, timeout=self.timeout)
        except requests.ConnectionError:
            raise ClientError(f"cannot reach the controller at {self.url}: is the platform up?") from None
        except requests.RequestException as exc:
            raise ClientError(f"request to {self.url} failed: {exc}") from None
        if response.status_code == 204:
            return None
        try:
            data = response.json()
        except ValueError:
            data = {"detail": response.text.strip() or response.reason}
        if response.status_code >= 400:
            detail = data.get("detail") if isinstance(data, dict) else None
            raise ClientError(detail or f"{response.status_code} {response.reason}")
        return data

    def get(self, path):
        return self.request("GET", path)

    def post(self, path, json=None):
        return self.request("POST", path, json=json if json is not None else {})

    def delete(self, path, json=None):
        return self.request("DELETE", path, json=json)

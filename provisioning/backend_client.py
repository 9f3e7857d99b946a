"""The station's calls to the Ikki server's factory API, with the factory token."""

from __future__ import annotations

from typing import Any

import httpx

from provisioning.errors import StationError

TIMEOUT_S = 10.0


class FactoryApi:
    def __init__(self, server: str, token: str) -> None:
        self.server = server.rstrip("/")
        self.token = token

    def _post(self, path: str, body: dict[str, Any], device_id: str) -> dict[str, Any]:
        try:
            response = httpx.post(f"{self.server}{path}", json=body, timeout=TIMEOUT_S,
                                  headers={"Authorization": f"Bearer {self.token}"})
        except httpx.HTTPError as error:
            raise StationError("backend_unreachable", url=self.server,
                               detail=str(error) or type(error).__name__) from None
        if response.status_code in (401, 403, 503):
            raise StationError("backend_token")
        if response.status_code == 409:
            raise StationError("duplicate_device", device_id=device_id)
        if response.status_code >= 400:
            try:
                detail = response.json().get("message") or response.text
            except ValueError:
                detail = response.text
            raise StationError("backend_rejected", device_id=device_id, detail=str(detail)[:300])
        return response.json()

    def record(self, record: dict[str, Any]) -> dict[str, Any]:
        """Store a board's record; a passing board is registered in the same request."""
        return self._post("/api/factory/records", record, record["device_id"])

    def rotate_key(self, device_id: str, current_key: str, new_key: str) -> dict[str, Any]:
        return self._post(f"/api/factory/devices/{device_id}/key",
                          {"current_key": current_key, "new_key": new_key}, device_id)

"""Posting to WebSocket connections through API Gateway's management API (`@connections`).

PostToConnection on `https://{api-id}.execute-api.{region}.amazonaws.com/{stage}` (API Gateway
Developer Guide, "Use @connections commands in your backend service"); a connection that no longer
exists answers 410 GoneException. Locally, `tidings dev` serves the same API on its WebSocket server,
so this adapter runs unchanged against it.
"""

from __future__ import annotations

from typing import Any

from tidings.core.config import Settings


class ConnectionGoneError(Exception):
    """410 GoneException from PostToConnection."""


class ApiGatewayConnections:
    def __init__(self, endpoint: str, region: str, client: Any = None) -> None:
        self.endpoint = endpoint
        self.region = region
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:  # made on the first post: a batch with nobody connected needs none
            import boto3

            self._client = boto3.client(
                "apigatewaymanagementapi", endpoint_url=self.endpoint, region_name=self.region
            )
        return self._client

    @classmethod
    def from_settings(cls, settings: Settings) -> ApiGatewayConnections:
        return cls(settings.live_endpoint_url, settings.region)

    def post(self, connection_id: str, message: bytes) -> None:
        try:
            self.client.post_to_connection(ConnectionId=connection_id, Data=message)
        except self.client.exceptions.GoneException:
            raise ConnectionGoneError(connection_id) from None

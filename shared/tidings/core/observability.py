"""Logging and tracing for the handlers (Powertools), so a handler imports only from `tidings`."""

from __future__ import annotations

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths

logger = Logger(service="tidings")

__all__ = ["correlation_paths", "logger"]

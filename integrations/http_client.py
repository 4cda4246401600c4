"""Outbound HTTP clients (payment gateways, the commerce hook, webhook subscribers, WeChat) share one
TLS context: building one loads the CA bundle, which cost more CPU than the rest of a webhook
delivery put together (docs/benchmarks.md, worker tuning)."""

from __future__ import annotations

import functools
import ssl
from typing import Any

import httpx


@functools.cache
def tls_context() -> ssl.SSLContext:
    """httpx's default verification (certifi's CA bundle, or SSL_CERT_FILE / SSL_CERT_DIR), built once."""
    return httpx.create_ssl_context()


def outbound_client(**options: Any) -> httpx.AsyncClient:
    """An AsyncClient verifying certificates with the shared context; `options` as for httpx.AsyncClient."""
    return httpx.AsyncClient(verify=tls_context(), **options)

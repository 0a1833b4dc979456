"""Prometheus metrics shared by the API and the worker."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

WEBHOOK_DELIVERIES = Counter(
    "relay_webhook_deliveries_total",
    "Webhook deliveries by source and outcome (accepted, duplicate, rejected, error).",
    ["source", "outcome"],
)
EVENTS_PROCESSED = Counter(
    "relay_events_processed_total",
    "Inbox events handled by the worker, by task and outcome (handled, retry, quarantined).",
    ["task", "outcome"],
)
EVENT_LAG = Histogram(
    "relay_event_lag_seconds",
    "Time from an event being stored to the worker finishing it.",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
HTTP_REQUESTS = Histogram(
    "relay_http_request_seconds",
    "HTTP request latency by route template and status class.",
    ["route", "status"],
)

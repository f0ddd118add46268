"""The gateway's metrics in Prometheus format (``GET /metrics``)."""

from __future__ import annotations

from functools import lru_cache

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class GatewayMetrics:
    """One registry per gateway, so several gateways can live in one process."""

    def __init__(self, gateway: str) -> None:
        self.registry = CollectorRegistry()
        labels = {"gateway": gateway}
        # Every message counts under its labels: the labelled children are looked up once and
        # kept (prometheus_client's labels() takes a lock and builds a key each call).
        self.messages = lru_cache(maxsize=4096)(Counter(
            "egov_gateway_messages", "Messages the gateway took, by service, channel and outcome",
            ["service_id", "channel", "status"], registry=self.registry,
        ).labels)
        self.latency = lru_cache(maxsize=4096)(Histogram(
            "egov_gateway_latency_seconds", "Time from taking a message to answering it (wall clock)",
            ["service_id", "channel"], registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        ).labels)
        self.queue_depth = Gauge(
            "egov_gateway_async_queue_depth", "Async messages waiting for delivery (ON_DELIVERY)",
            registry=self.registry,
        )
        self.replays = Counter(
            "egov_gateway_replays", "Repeated messageIds answered with the first answer", registry=self.registry
        )
        self.info = Gauge("egov_gateway_info", "Which gateway this is", ["gateway"], registry=self.registry)
        self.info.labels(**labels).set(1)

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

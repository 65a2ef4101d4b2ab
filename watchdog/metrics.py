"""Prometheus metrics and the /health endpoint, served on a local port."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from watchdog.redaction import redact_text


class Metrics:
    """Every metric of one daemon, in its own registry (several daemons can live in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.blocks = Counter("watchdog_blocks_processed", "Blocks processed", ["network"], registry=r)
        self.logs = Counter("watchdog_logs_processed", "Logs fetched and decoded", ["network"], registry=r)
        self.findings = Counter("watchdog_findings", "New findings stored", ["network", "severity"], registry=r)
        self.retractions = Counter("watchdog_findings_retracted", "Findings retracted by reorgs", ["network"], registry=r)
        self.reorgs = Counter("watchdog_reorgs", "Reorgs handled", ["network"], registry=r)
        self.reorg_depth = Gauge("watchdog_last_reorg_depth", "Depth of the last reorg", ["network"], registry=r)
        self.errors = Counter("watchdog_errors", "Errors survived, by kind", ["network", "kind"], registry=r)
        self.head = Gauge("watchdog_chain_head", "Latest block seen", ["network"], registry=r)
        self.checkpoint = Gauge("watchdog_checkpoint", "Last block committed", ["network"], registry=r)
        self.lag = Gauge("watchdog_lag_blocks", "Blocks between the checkpoint and the safe head", ["network"], registry=r)
        self.pending = Counter("watchdog_pending_txs", "Pending transactions simulated", ["network"], registry=r)
        self.rpc_requests = Counter("watchdog_rpc_requests", "JSON-RPC HTTP requests", ["endpoint", "ok"], registry=r)
        self.rpc_calls = Counter("watchdog_rpc_calls", "JSON-RPC calls sent, by method (each call of a batch counts)",
                                 ["method"], registry=r)
        self.rpc_latency = Histogram("watchdog_rpc_latency_seconds", "JSON-RPC request latency", ["endpoint"], registry=r,
                                     buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10))
        self.endpoint_score = Gauge("watchdog_rpc_endpoint_health", "Endpoint health score (0..1)", ["endpoint"], registry=r)
        self.commit_latency = Histogram(
            "watchdog_block_to_store_seconds", "From a block mined (its head first seen) to its findings committed, every block",
            ["network"], registry=r, buckets=(0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 1, 2, 5, 10, 30, 60, 300))

    def rpc_hook(self, endpoint: Any, ok: bool, elapsed_ms: float) -> None:
        """RpcClient.on_request: counts, latency and health score per endpoint."""
        self.rpc_requests.labels(endpoint.label, "true" if ok else "false").inc()
        self.rpc_latency.labels(endpoint.label).observe(elapsed_ms / 1000)
        self.endpoint_score.labels(endpoint.label).set(endpoint.health_score())

    def rpc_calls_hook(self, calls: list[tuple[str, Any]]) -> None:
        """RpcClient.on_calls: the methods of each request, for what following a chain costs by method."""
        for method, _ in calls:
            self.rpc_calls.labels(method).inc()

    def render(self) -> bytes:
        """This daemon's metrics, then the process-wide ones: per-rule timing and errors
        (watchdog_rule_seconds, watchdog_rule_errors_total) and the process collectors."""
        return generate_latest(self.registry) + generate_latest(REGISTRY)


class MetricsServer:
    """GET /metrics (Prometheus text) and GET /health (JSON; 200 when healthy, 503 otherwise)."""

    def __init__(self, metrics: Metrics, health: Callable[[], dict[str, Any]], host: str = "127.0.0.1", port: int = 9464) -> None:
        self.metrics = metrics
        self.health = health
        outer = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True  # headers and body go out as separate writes

            def do_GET(self) -> None:  # noqa: N802 (http.server API)
                if self.path.split("?")[0] == "/metrics":
                    self._send(200, outer.metrics.render(), CONTENT_TYPE_LATEST)
                elif self.path.split("?")[0] == "/health":
                    report = outer.health()
                    body = redact_text(json.dumps(report))  # errors quoted in the reasons may name endpoints
                    self._send(200 if report.get("ok") else 503, body.encode(), "application/json")
                else:
                    self._send(404, b"not found: try /metrics or /health\n", "text/plain")

            def _send(self, code: int, body: bytes, kind: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:  # quiet: scrapes are not news
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, name="metrics", daemon=True)

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def start(self) -> "MetricsServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


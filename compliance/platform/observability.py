"""Structured JSON logs with request ids, Prometheus metrics, and their endpoint.

Logs carry the request id, principal and organisation, never feature values or bodies.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

logger = logging.getLogger("inspectoscope.requests")

REQUESTS = Counter(
    "inspectoscope_http_requests_total", "HTTP requests", ["method", "route", "status"]
)
# Metric labels come from fixed sets only, never from what a client sends: an unknown
# method is "other" and an unresolved path is "unmatched", so random methods or paths
# cannot grow the number of series (each series lives until the worker restarts).
METHOD_LABELS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}
)


def method_label(method: str | None) -> str:
    return method if method in METHOD_LABELS else "other"


def route_label(request: HttpRequest) -> str:
    """The resolved route's pattern (a fixed set, from the URLconf), or "unmatched"."""
    match = getattr(request, "resolver_match", None)
    return match.route if match is not None else "unmatched"


def status_label(status: int) -> str:
    return str(status) if 100 <= status <= 599 else "other"


LATENCY = Histogram(
    "inspectoscope_http_request_duration_seconds",
    "HTTP request latency",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


class JsonFormatter(logging.Formatter):
    """One JSON object per line; extra fields given with ``extra={"fields": {...}}``."""

    def format(self, record: logging.LogRecord) -> str:
        document = {
            "ts": timezone.now().isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **getattr(record, "fields", {}),
        }
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, default=str)


class RequestObservabilityMiddleware:
    """A request id on every request and response, a JSON access log line, metrics."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        supplied = request.headers.get("X-Request-ID", "")
        request_id = (
            supplied
            if 8 <= len(supplied) <= 64 and supplied.isascii()
            else (uuid.uuid4().hex)
        )
        request.request_id = request_id  # type: ignore[attr-defined]
        start = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - start
        route = route_label(request)
        REQUESTS.labels(
            method_label(request.method), route, status_label(response.status_code)
        ).inc()
        LATENCY.labels(route).observe(elapsed)
        response["X-Request-ID"] = request_id
        principal = getattr(request, "_inspectoscope_principal", None)
        logger.info(
            "request",
            extra={
                "fields": {
                    "request_id": request_id,
                    "method": request.method,
                    "route": route,
                    "status": response.status_code,
                    "duration_ms": round(elapsed * 1000, 2),
                    "principal": principal.actor if principal else None,
                    "organization": principal.organization.slug if principal else None,
                }
            },
        )
        return response


class JobCollector(Collector):
    """Queue depth, jobs by state and recent job durations, read at scrape time."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from django.db.models import Count

        from compliance.models import Job

        by_state = GaugeMetricFamily(
            "inspectoscope_jobs", "Jobs by kind and state", labels=["kind", "status"]
        )
        for row in Job.objects.values("kind", "status").annotate(n=Count("id")):
            by_state.add_metric([row["kind"], row["status"]], row["n"])
        yield by_state
        depth = GaugeMetricFamily(
            "inspectoscope_queue_depth", "Queued jobs", labels=["kind"]
        )
        for kind in Job.Kind.values:
            depth.add_metric(
                [kind],
                Job.objects.filter(kind=kind, status=Job.Status.QUEUED).count(),
            )
        yield depth
        recent = Job.objects.filter(
            status=Job.Status.DONE,
            finished_at__gte=timezone.now() - timedelta(minutes=10),
        ).exclude(started_at=None)
        durations = GaugeMetricFamily(
            "inspectoscope_job_duration_seconds_avg",
            "Mean claim-to-done time of jobs finished in the last 10 minutes "
            "(explanations: batch duration; dossiers: render duration)",
            labels=["kind"],
        )
        for kind in Job.Kind.values:
            values = [
                (j.finished_at - j.started_at).total_seconds()
                if j.finished_at and j.started_at
                else 0.0
                for j in recent.filter(kind=kind).only("started_at", "finished_at")[
                    :1000
                ]
            ]
            durations.add_metric([kind], sum(values) / len(values) if values else 0.0)
        yield durations


_collector_registered = False


def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus metrics, for a bearer token (METRICS_TOKEN) or staff; else 404."""
    global _collector_registered
    token = settings.METRICS_TOKEN
    authorised = (
        bool(token) and request.headers.get("Authorization") == f"Bearer {token}"
    )
    if not (authorised or (request.user.is_authenticated and request.user.is_staff)):
        raise Http404
    if not _collector_registered:
        REGISTRY.register(JobCollector())
        _collector_registered = True
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)

"""Prometheus /metrics, read from the shared ephemeral store so every process reports the same figures."""

from __future__ import annotations

from flask import Blueprint, Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from .extensions import runtime
from .otp import codes

bp = Blueprint("metrics", __name__)


class StoreCollector:
    def collect(self):
        sms = runtime().settings.sms
        used = codes.budget_used_today()
        yield GaugeMetricFamily("idp_sms_sent_today", "SMS codes counted against today's budget (UTC day).", value=used)
        yield GaugeMetricFamily("idp_sms_daily_budget", "The daily SMS budget (sms.daily_budget).", value=sms.daily_budget)
        yield GaugeMetricFamily(
            "idp_sms_budget_exhausted", "1 when today's SMS budget is used up and sends are refused.",
            value=1 if used >= sms.daily_budget else 0,
        )


@bp.route("/metrics")
def metrics():
    registry = CollectorRegistry()
    registry.register(StoreCollector())
    return Response(generate_latest(registry), mimetype="text/plain; version=0.0.4")

"""Alerts (SPEC 3.7): what the administrators and pharmacists must act on before stock is
thrown away or runs out, stored before anything is sent.

- `models`: the scan runs and alerts tables, and what an alert says;
- `scans`: the daily set-based scan, the recall alert raised by a recall, and the adverse
  signals the clinic finds (`clinic.vigilance`);
- `inbox`: alerts to act on, counted and acknowledged;
- `notifications`: who is told, and the digest queued in the outbox;
- `health`: whether the scan runs as it should (the service's health answer).
"""

from inventory.alerts.health import (
    last_scan_run,
    last_successful_scan,
    recent_scan_runs,
    scan_overdue,
    service_health,
)
from inventory.alerts.inbox import acknowledge, acknowledge_many, get_alert, inbox, open_counts
from inventory.alerts.models import URGENCY, Alert, AlertKind, AlertStatus, ScanOutcome, ScanRun
from inventory.alerts.scans import (
    AdverseSignal,
    created_by,
    fail_scan_run,
    raise_adverse_signals,
    raise_recall_alert,
    scan,
    start_scan_run,
)

__all__ = [
    "URGENCY",
    "AdverseSignal",
    "Alert",
    "AlertKind",
    "AlertStatus",
    "ScanOutcome",
    "ScanRun",
    "acknowledge",
    "acknowledge_many",
    "created_by",
    "fail_scan_run",
    "get_alert",
    "inbox",
    "last_scan_run",
    "last_successful_scan",
    "open_counts",
    "raise_adverse_signals",
    "raise_recall_alert",
    "recent_scan_runs",
    "scan",
    "scan_overdue",
    "service_health",
    "start_scan_run",
]

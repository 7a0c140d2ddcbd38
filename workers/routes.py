"""Task names and queues per job kind: the only place they are written."""

from __future__ import annotations

# kind -> (task name, queue)
KIND_TASKS = {
    "explanation": ("workers.tasks.explanations_process", "attributions"),
    "dossier": ("workers.tasks.dossiers_process", "dossiers"),
    "audit_verify": ("workers.tasks.audit_verify_process", "dossiers"),
    # a notice is a small render: CPU work beside the dossiers
    "notice": ("workers.tasks.notices_process", "dossiers"),
    # the monthly oversight report: a render, CPU work
    "report": ("workers.tasks.reports_process", "dossiers"),
    # webhook deliveries: waiting on other people's servers, never beside the renders
    "webhook": ("workers.tasks.webhooks_process", "webhooks"),
}
# periodic, on its own queue so a backlog of job messages never delays it
SWEEP_TASK = ("workers.tasks.jobs_sweep", "sweeper")
# periodic: timestamp every audit chain's head (CPU work: the dossiers queue)
ANCHOR_TASK = ("workers.tasks.audit_chains_anchor", "dossiers")
# periodic: record the alerts the monitoring figures raise (CPU: the dossiers queue)
ALERTS_TASK = ("workers.tasks.monitoring_alerts_scan", "dossiers")

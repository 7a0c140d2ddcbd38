"""Every route × method × persona, generated from the URL resolver; who may do what is
read from ``compliance.policy``'s table.

A route that names no policy action below fails the test, so a new endpoint cannot ship
without a decision about who may call it. Reports the number of combinations tried and
the unauthorized successes (must be 0).
"""

from __future__ import annotations

import re
from typing import Any

from django.db import connection
from django.urls import URLPattern, URLResolver, get_resolver

from compliance import policy
from compliance.models import Decision
from tests.conftest import PERSONAS, client_for

WRITE = re.compile(r"\s*(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)

METHODS = ["get", "post", "put", "patch", "delete"]
PUBLIC = set(PERSONAS)

# route name -> {method: the compliance.policy action it serves}; who may is read from
# the policy's table, never written here
ROUTE_ACTIONS: dict[str, dict[str, str]] = {
    "api:ai-system-list": {"get": "ai_system.read", "post": "ai_system.register"},
    "api:ai-system-detail": {"get": "ai_system.read"},
    "api:model-version-list": {
        "get": "model_version.read",
        "post": "model_version.register",
    },
    "api:model-version-detail": {"get": "model_version.read"},
    "api:decision-list": {"get": "decision.read", "post": "decision.submit"},
    "api:decision-detail": {"get": "decision.read"},
    "api:decision-explanations": {
        "get": "explanation.read",
        "post": "explanation.request",
    },
    "api:decision-dossiers": {"post": "dossier.request"},
    "api:decision-reviews": {"get": "review.read"},
    "api:dossier-list": {"get": "dossier.read"},
    "api:dossier-verify": {"post": "dossier.verify"},
    "api:dossier-detail": {"get": "dossier.read"},
    "api:dossier-pdf": {"get": "dossier.download"},
    "api:job-detail": {"get": "job.read"},
    "api:job-list": {"get": "job.read"},
    "api:audit-event-list": {"get": "audit.read"},
    "api:decision-notices": {"post": "notice.request"},
    "api:monitoring-oversight": {"get": "monitoring.read"},
    "api:monitoring-fairness": {"get": "monitoring.read"},
    "api:monitoring-drift": {"get": "monitoring.read"},
    "api:decision-bulk": {"post": "decision.submit"},
    "web:monitoring": {"get": "monitoring.read"},
    "web:monitoring-oversight": {"get": "monitoring.read"},
    "web:monitoring-fairness": {"get": "monitoring.read"},
    "web:monitoring-drift": {"get": "monitoring.read"},
    "web:monitoring-report": {"get": "monitoring.read"},
    "web:monitoring-report-request": {"post": "monitoring.report"},
    "api:decision-contests": {"get": "contest.read", "post": "contest.submit"},
    "api:notice-list": {"get": "notice.read"},
    "api:notice-detail": {"get": "notice.read"},
    "api:notice-pdf": {"get": "notice.download"},
    "api:notice-html": {"get": "notice.download"},
    "web:case-notice-preview": {"get": "notice.read"},
    "web:case-notice-issue": {"post": "notice.request"},
    "web:case-list": {"get": "case.read"},
    "web:case-assign": {"post": "case.assign_self"},
    "web:cases-assign": {"post": "case.assign_self"},
    "web:case-detail": {"get": "case.read"},
    "web:case-review": {"post": "review.record"},
    "web:case-drill": {"post": "drill.create"},
    "web:case-confirm": {"post": "review.confirm"},
    "web:case-preliminary": {"post": "review.preliminary_view"},
    "web:case-explain": {"post": "review.record"},  # the UI's reviewer gate
    "web:case-dossier": {"post": "review.record"},
    "web:dossier-list": {"get": "dossier.read"},
    "web:dossier-verify": {"get": "dossier.verify", "post": "dossier.verify"},
    "web:audit-trail": {"get": "audit.read", "post": "audit.verify"},
    "api:webhook-list": {"get": "webhook.read", "post": "webhook.manage"},
    "api:webhook-detail": {
        "get": "webhook.read",
        "patch": "webhook.manage",
        "delete": "webhook.manage",
    },
    "api:webhook-secret": {"post": "webhook.manage"},
    "api:webhook-deliveries": {"get": "webhook.read"},
    "api:webhook-delivery-detail": {"get": "webhook.read"},
    "api:webhook-redeliver": {"post": "webhook.manage"},
    "web:webhook-list": {"get": "webhook.read", "post": "webhook.manage"},
    "web:webhook-detail": {"get": "webhook.read"},
    "web:webhook-change": {"post": "webhook.manage"},
    "web:webhook-redeliver": {"post": "webhook.manage"},
}
# routes outside the policy: public pages, and metrics (bearer token or staff only:
# nobody in the matrix)
OPEN_ROUTES: dict[str, dict[str, set[str]]] = {
    "home": {"get": PUBLIC},
    "healthz": {"get": PUBLIC},
    "readyz": {"get": PUBLIC},
    "metrics": {},
    "schema": {"get": PUBLIC},
    "api-docs": {"get": PUBLIC},
    "login": {"get": PUBLIC, "post": PUBLIC},
    # genuine or not, nothing of the content, rate-limited per IP (issue 12 part 7)
    "api:public-dossier-verify": {"post": PUBLIC},
    "web:public-verify": {"get": PUBLIC, "post": PUBLIC},
    # the two-factor step (issue 13): any signed-in person, for their own account
    "web:two-factor-verify": {
        "get": {"officer", "auditor", "admin", "other_org"},
        "post": {"officer", "auditor", "admin", "other_org"},
    },
    "web:two-factor-enrol": {
        "get": {"officer", "auditor", "admin", "other_org"},
        "post": {"officer", "auditor", "admin", "other_org"},
    },
}


def _allowed(name: str, method: str) -> set[str]:
    if name in OPEN_ROUTES:
        return OPEN_ROUTES[name].get(method, set())
    action = ROUTE_ACTIONS[name].get(method)
    return set(policy.roles_for(action)) if action else set()


# framework routes (Django admin and auth views) are covered by their own frameworks
IGNORED_PREFIXES = ("admin/", "accounts/logout", "accounts/password", "accounts/reset")


def _routes() -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []

    def walk(patterns: list[Any], prefix: str, namespace: str) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                ns = f"{namespace}{p.namespace}:" if p.namespace else namespace
                walk(p.url_patterns, prefix + str(p.pattern), ns)
            elif isinstance(p, URLPattern):
                route = prefix + str(p.pattern)
                if route.startswith(IGNORED_PREFIXES) or "static" in route:
                    continue
                found.append((f"{namespace}{p.name}", route))

    walk(get_resolver().url_patterns, "", "")
    return found


def test_every_route_has_a_policy():
    missing = sorted(
        {name for name, _ in _routes()} - set(ROUTE_ACTIONS) - set(OPEN_ROUTES)
    )
    assert missing == [], f"routes without an access policy: {missing}"


def _path(route: str, world: Any) -> str:
    ids = {
        "ai-systems": world.ai_system.pk,
        "model-versions": world.model_version.pk,
        "decisions": world.decision.pk,
        "cases": world.decision.pk,
        "dossiers": world.dossier.pk,
        "notices": world.notice.pk,
        "jobs": world.job.pk,
        "reports": 1,  # none exists: 404 for everyone
        "webhooks": 1,  # none exists: 404 for everyone (tests/api/test_webhooks_api)
        "deliveries": 1,
    }
    parts = route.split("/")
    out = []
    for i, part in enumerate(parts):
        if part.startswith("<int:"):
            out.append(str(ids[parts[i - 1]]))
        else:
            out.append(part)
    return "/" + "/".join(out)


def test_the_generated_matrix_has_no_unauthorized_success(world_with_job, capsys):
    world = world_with_job
    combinations = unauthorized = 0
    failures: list[str] = []
    unasked: list[str] = []
    for name, route in sorted(set(_routes())):
        path = _path(route, world)
        for method in METHODS:
            allowed = _allowed(name, method)
            for persona in PERSONAS:
                combinations += 1
                api = client_for(world, persona)  # signing in is audited: not counted
                writes: list[bool] = []  # per write: had the policy granted before?
                with (
                    policy.observed() as seen,
                    connection.execute_wrapper(_write_recorder(writes, seen)),
                ):
                    response = getattr(api, method)(path)
                code = response.status_code
                if name != "login" and not all(writes):
                    unasked.append(f"{persona} {method.upper()} {path} wrote unasked")
                to_login = code == 302 and "/accounts/login/" in response.get(
                    "Location", ""
                )
                succeeded = code < 400 and not to_login
                # "other_org" is an officer of another organisation: officer rights on
                # lists of its own rows, nothing on this organisation's objects
                role = "officer" if persona == "other_org" else persona
                foreign_object = persona == "other_org" and "<int:" in route
                permitted = role in allowed and not foreign_object
                if succeeded and not permitted and name not in ("home", "login"):
                    unauthorized += 1
                    failures.append(f"{persona} {method.upper()} {path} -> {code}")
    print(
        f"\nRBAC matrix: {combinations} combinations, {unauthorized} unauthorized successes"
    )
    print("\n".join(failures))
    assert failures == []
    # every request that wrote a domain row had the policy grant something first
    assert unasked == []


def _write_recorder(writes: list[bool], seen: list[tuple[str, str, bool]]) -> Any:
    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if WRITE.match(sql) and "compliance_" in sql:
            writes.append(any(granted for _, _, granted in seen))
        return execute(sql, params, many, context)

    return record


def test_the_write_recorder_sees_a_write_the_policy_did_not_grant(world):
    """The check above can fail: a write made with no grant is reported."""
    writes: list[bool] = []
    with (
        policy.observed() as seen,
        connection.execute_wrapper(_write_recorder(writes, seen)),
    ):
        Decision.objects.filter(pk=world.decision.pk).update(status="reviewed")
    assert writes == [False]

"""Who may do what: the only place role rules live.

``can(principal, action, obj)`` answers; ``require`` raises the domain error the API and
the UI turn into 403 (a role that may not act) or 404 (another organisation's object:
its existence does not leak). Services call ``require`` before they write; API views and
web views ask ``can`` for the action they serve, so both read this one table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from compliance.errors import NotFound, PermissionDenied
from compliance.principals import (
    ADMIN,
    AUDITOR,
    CLIENT,
    OFFICER,
    PLATFORM_ADMIN,
    SYSTEM,
    Operator,
    Principal,
)

PEOPLE = frozenset({OFFICER, AUDITOR, ADMIN})
EVERY_ROLE = PEOPLE | {CLIENT}
REVIEWERS = frozenset({OFFICER, ADMIN})
OPERATORS = frozenset({PLATFORM_ADMIN, SYSTEM})
# the platform itself (management commands, tools) may also ask for work
REQUESTERS = frozenset({CLIENT, OFFICER, ADMIN}) | OPERATORS
# anyone at all, signed in or not (the public verification page and endpoint)
PUBLIC = "public"

RULES: dict[str, frozenset[str]] = {
    # an organisation's registry
    "ai_system.read": EVERY_ROLE,
    "ai_system.register": frozenset({ADMIN}),
    "model_version.read": EVERY_ROLE,
    "model_version.register": frozenset({ADMIN}),
    # decisions and their results
    "decision.read": EVERY_ROLE,
    "decision.submit": frozenset({CLIENT}),
    "explanation.read": EVERY_ROLE,
    "explanation.request": REQUESTERS,
    "job.read": EVERY_ROLE,
    "dossier.read": EVERY_ROLE,
    "dossier.download": EVERY_ROLE,
    "dossier.verify": EVERY_ROLE,
    "dossier.request": REQUESTERS,
    # genuine or not, by whom, which version, superseded: nothing of the content
    "dossier.verify_public": EVERY_ROLE | OPERATORS | {PUBLIC},
    # notices to the person a decision is about
    "notice.read": EVERY_ROLE,
    "notice.download": EVERY_ROLE,
    "notice.request": REQUESTERS,
    # the person contests a decision through the client system that serves them
    "contest.submit": frozenset({CLIENT}) | OPERATORS,
    "contest.read": EVERY_ROLE,
    # population statistics (oversight, fairness, drift): the organisation's people
    # (the platform too: the alert scan and the report job run as operators)
    "monitoring.read": PEOPLE | OPERATORS,
    "monitoring.report": PEOPLE,  # ask for a monthly oversight report (a job)
    # training drills against automation bias: admins build them from real cases;
    # auditors and admins see them marked, a reviewer only once answered
    "drill.create": frozenset({ADMIN}),
    "drill.read": frozenset({AUDITOR, ADMIN}),
    # webhooks: admins register endpoints and redeliver; auditors read the logs
    "webhook.read": frozenset({ADMIN, AUDITOR}),
    "webhook.manage": frozenset({ADMIN}),
    # the web UI's case work (people only)
    "case.read": PEOPLE,
    # case management: a reviewer takes (or gives up) a case; an admin gives any case
    # to any reviewer of the organisation; only reviewers are given cases
    "case.assign_self": REVIEWERS,
    "case.assign": frozenset({ADMIN}),
    "case.assignee": REVIEWERS,
    # CSV exports of what a person may read (each export is an audit event)
    "case.export": PEOPLE,
    "audit.export": PEOPLE,
    "review.record": REVIEWERS,
    "review.preliminary_view": REVIEWERS,
    "review.confirm": REVIEWERS,  # four-eyes: a second officer confirms an overturn
    "review.read": EVERY_ROLE,
    "audit.read": PEOPLE,
    "audit.verify": PEOPLE,
    "audit.anchor": OPERATORS,  # timestamp the chain heads (beat, audit_anchor)
    # the platform (Django admin, management commands)
    "organization.create": OPERATORS,
    "membership.create": OPERATORS,
    "client_system.create": OPERATORS,
    "api_key.create": OPERATORS,
    "api_key.revoke": OPERATORS,
    "api_key.expire": OPERATORS,
    "organization.update": OPERATORS,
    "membership.update": OPERATORS,
    "membership.remove": OPERATORS,
    "client_system.rename": OPERATORS,
    "ai_system.update": OPERATORS,
    "model_version.retire": OPERATORS,
    "user.update": OPERATORS,
}

Actor = Principal | Operator
_observers: list[Callable[[Actor, str, bool], None]] = []


def _organization_id(obj: Any) -> Any:
    if hasattr(obj, "organization_id"):
        return obj.organization_id
    return obj.ai_system.organization_id  # a model version belongs to its AI system


def _decide(principal: Actor, action: str, obj: Any) -> tuple[bool, bool]:
    """(allowed by role, object in the principal's organisation)."""
    allowed = principal.role in RULES[action]  # an unknown action is a bug: KeyError
    if obj is None or isinstance(principal, Operator):
        return allowed, True
    return allowed, _organization_id(obj) == principal.organization.pk


def can(principal: Actor | None, action: str, obj: Any = None) -> bool:
    """Whether ``principal`` may do ``action`` (on ``obj``, when given)."""
    if principal is None:
        result = False
        RULES[action]  # noqa: B018 (unknown actions fail even for anonymous callers)
    else:
        allowed, same_org = _decide(principal, action, obj)
        result = allowed and same_org
    for observer in _observers:
        observer(principal, action, result)  # type: ignore[arg-type]
    return result


def require(principal: Actor, action: str, obj: Any = None) -> None:
    """Raise NotFound for another organisation's object, PermissionDenied for a role
    that may not act; return when ``can`` would say yes."""
    allowed, same_org = _decide(principal, action, obj)
    for observer in _observers:
        observer(principal, action, allowed and same_org)
    if not same_org:
        raise NotFound("Not found.")
    if not allowed:
        raise PermissionDenied(f"Your role ({principal.role}) may not do this.")


def roles_for(action: str) -> frozenset[str]:
    return RULES[action]


@contextmanager
def observed() -> Iterator[list[tuple[str, str, bool]]]:
    """Record every decision made while the block runs (tests use it to prove that
    nothing writes without asking)."""
    seen: list[tuple[str, str, bool]] = []

    def record(principal: Actor | None, action: str, result: bool) -> None:
        seen.append((getattr(principal, "role", ""), action, result))

    _observers.append(record)
    try:
        yield seen
    finally:
        _observers.remove(record)

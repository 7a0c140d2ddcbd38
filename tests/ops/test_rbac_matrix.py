"""Every route × method × persona, generated from the URL resolver.

A route that the policy below does not name fails the test, so a new endpoint cannot ship
without a decision about who may call it. Reports the number of combinations tried and
the unauthorized successes (must be 0).
"""

from __future__ import annotations

from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver

from tests.conftest import PERSONAS, client_for

METHODS = ["get", "post", "put", "patch", "delete"]
EVERY = {"client", "officer", "auditor", "admin"}
PEOPLE = {"officer", "auditor", "admin"}
WRITERS = {"client", "officer", "admin"}
REVIEWERS = {"officer", "admin"}
PUBLIC = set(PERSONAS)

# route name -> {method: personas allowed to get a 2xx/3xx result}
POLICY: dict[str, dict[str, set[str]]] = {
    "api:ai-system-list": {"get": EVERY, "post": {"admin"}},
    "api:ai-system-detail": {"get": EVERY},
    "api:model-version-list": {"get": EVERY, "post": {"admin"}},
    "api:model-version-detail": {"get": EVERY},
    "api:decision-list": {"get": EVERY, "post": {"client"}},
    "api:decision-detail": {"get": EVERY},
    "api:decision-explanations": {"get": EVERY, "post": WRITERS},
    "api:decision-dossiers": {"post": WRITERS},
    "api:dossier-list": {"get": EVERY},
    "api:dossier-verify": {"post": EVERY},
    "api:dossier-detail": {"get": EVERY},
    "api:dossier-pdf": {"get": EVERY},
    "api:job-detail": {"get": EVERY},
    "web:case-list": {"get": PEOPLE},
    "web:case-detail": {"get": PEOPLE},
    "web:case-review": {"post": REVIEWERS},
    "web:case-preliminary": {"post": REVIEWERS},
    "web:case-explain": {"post": REVIEWERS},
    "web:case-dossier": {"post": REVIEWERS},
    "web:dossier-list": {"get": PEOPLE},
    "web:dossier-verify": {"get": PEOPLE, "post": PEOPLE},
    "web:audit-trail": {"get": PEOPLE, "post": PEOPLE},
    "home": {"get": PUBLIC},
    "healthz": {"get": PUBLIC},
    "readyz": {"get": PUBLIC},
    "metrics": {},  # bearer token or staff only: nobody in the matrix
    "schema": {"get": PUBLIC},
    "api-docs": {"get": PUBLIC},
    "login": {"get": PUBLIC, "post": PUBLIC},
}
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
    missing = sorted({name for name, _ in _routes()} - set(POLICY))
    assert missing == [], f"routes without an access policy: {missing}"


def _path(route: str, world: Any) -> str:
    ids = {
        "ai-systems": world.ai_system.pk,
        "model-versions": world.model_version.pk,
        "decisions": world.decision.pk,
        "cases": world.decision.pk,
        "dossiers": world.dossier.pk,
        "jobs": world.job.pk,
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
    failures = []
    for name, route in sorted(set(_routes())):
        path = _path(route, world)
        for method in METHODS:
            allowed = POLICY[name].get(method, set())
            for persona in PERSONAS:
                combinations += 1
                response = getattr(client_for(world, persona), method)(path)
                code = response.status_code
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

"""The case queue and case detail for officers (review) and auditors (read-only)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    QueryDict,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

import explain
from compliance import errors
from compliance.audit.selectors import decision_history
from compliance.decisions.export import case_queue_export
from compliance.decisions.selectors import (
    CASE_FLAGS,
    CASE_SORT_DEFAULT,
    CASE_SORTS,
    case_counts,
    case_queue,
    case_sort_check,
    decision_list,
)
from compliance.dossiers import dossier_request
from compliance.dossiers.charts import attribution_bars_svg
from compliance.dossiers.selectors import decision_dossiers
from compliance.errors import DomainError
from compliance.explanations import explanation_request
from compliance.explanations.presentation import (
    counterfactual_alternatives,
    reasons_source,
    reasons_unstable,
    standard_error_text,
)
from compliance.explanations.selectors import explanation_list
from compliance.models import Decision, Drill, Explanation, ModelVersion, Review
from compliance.notices import notice_languages
from compliance.notices.selectors import decision_notices
from compliance.platform import text_limits
from compliance.policy import can
from compliance.registry.selectors import ai_system_list, model_version_list
from compliance.reviews import (
    MIN_JUSTIFICATION,
    MIN_SUPERSEDE_REASON,
    preliminary_view_record,
    review_awaiting_confirmation,
    review_confirm,
    review_list,
    review_record,
)
from compliance.reviews.assignment import (
    assignee_resolve,
    case_assign,
    case_assignees,
    cases_assign_bulk,
)
from compliance.reviews.contests import contest_list
from compliance.reviews.drills import drill_create, drill_result, drills_assign
from compliance.reviews.selectors import (
    blind_pending,
    blind_pending_expression,
    blind_pending_refuse,
)
from compliance.web.access import can_review, member_required

PAGE_SIZE = 25
UI_METHODS = ["integrated_gradients", "deeplift", "kernel_shap"]
# a model run by onnxruntime has no gradients: exact TreeSHAP for a tree ensemble,
# Kernel SHAP and feature ablation otherwise
UI_METHODS_WITHOUT_GRADIENTS = ["tree_shap", "kernel_shap", "feature_ablation"]


def ui_methods(model_version: ModelVersion) -> list[str]:
    """The methods the case page's "Explain" button asks for, of those the model
    version offers (three at most)."""
    offered = model_version.methods
    wanted = [m for m in UI_METHODS if m in offered]
    if len(wanted) < 2:
        wanted = [m for m in UI_METHODS_WITHOUT_GRADIENTS if m in offered]
    return wanted[:3] or offered[:1]


@require_GET
@member_required()
def case_list(request: HttpRequest) -> HttpResponseBase:
    principal = request.principal  # type: ignore[attr-defined]
    # training drills join a reviewer's queue at their AI system's rate
    drills_assign(principal=principal)
    filters = {k: str(v) for k, v in request.GET.items() if k not in ("page", "format")}
    try:
        case_sort_check(filters.get("sort", ""))
    except errors.ValidationFailed as exc:
        return render(
            request,
            "cases/bad_query.html",
            {"errors": exc.errors, "principal": principal},
            status=400,
        )
    # blind-first: rows whose answer is hidden from this reviewer say so, and the
    # outcome filter leaves them out (how many is told, not which outcome they have)
    hidden = blind_pending_expression(principal)
    queryset = case_queue(principal=principal, filters=filters, blind_pending=hidden)
    if request.GET.get("format") == "csv":
        return _csv_response(
            case_queue_export(principal=principal, queue=queryset, filters=filters),
            "cases",
        )
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    now = timezone.now()
    for row in page.object_list:
        row.age_text = _age_text(now - row.received_at)
    hidden_left_out = (
        case_queue(
            principal=principal,
            filters={**filters, "outcome": ""},
            blind_pending=hidden,
        )
        .filter(Q(blind_pending=True))  # an annotation: Q, which the stubs let be
        .count()
        if filters.get("outcome")
        else 0
    )
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("format", None)
    may_assign_others = can(principal, "case.assign")
    return render(
        request,
        "cases/list.html",
        {
            "page": page,
            "filters": filters,
            "query": query.urlencode(),
            "csv_query": _with(query, format="csv"),
            "columns": _sort_columns(query, filters.get("sort", "")),
            "counts": case_counts(principal=principal),
            "statuses": Decision.Status.choices,
            "flags": CASE_FLAGS,
            "ai_systems": ai_system_list(principal=principal),
            "outcomes": _outcome_labels(principal, filters.get("outcome", "")),
            "principal": principal,
            "hidden_left_out": hidden_left_out,
            "may_assign": can(principal, "case.assign_self"),
            "assignees": (
                case_assignees(principal=principal) if may_assign_others else []
            ),
            "may_assign_others": may_assign_others,
        },
    )


def _age_text(age: timedelta) -> str:
    hours = age.total_seconds() / 3600
    if hours < 1:
        return f"{max(int(age.total_seconds() // 60), 0)} min"
    return f"{hours:.0f} h" if hours < 48 else f"{hours / 24:.0f} d"


def _with(query: QueryDict, **changes: str) -> str:
    changed = query.copy()
    for key, value in changes.items():
        changed[key] = value
    return changed.urlencode()


def _sort_columns(query: QueryDict, sort: str) -> dict[str, dict[str, str]]:
    """Per sortable column: the link that sorts by it (ascending, or descending
    when it is the ascending sort now) and its ``aria-sort``."""
    current = sort or CASE_SORT_DEFAULT
    columns = {}
    for column in CASE_SORTS:
        if current == column:
            target, state = f"-{column}", "ascending"
        elif current == f"-{column}":
            target, state = column, "descending"
        else:
            target, state = column, "none"
        # the age column sorts the other way round from receipt
        if column == "age" and state == "none":
            target = "-age"
        columns[column] = {"href": "?" + _with(query, sort=target), "state": state}
    return columns


def _outcome_labels(principal: object, current: str) -> list[str]:
    """Every outcome label of the organisation's model versions (and the one
    filtered by now, if it is none of them)."""
    labels: set[str] = set()
    for class_labels in model_version_list(principal=principal).values_list(  # type: ignore[arg-type]
        "class_labels", flat=True
    ):
        labels.update(str(label) for label in class_labels or [])
    if current:
        labels.add(current)
    return sorted(labels)


def _csv_response(lines: Iterator[str], name: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.csv"'
    response["Cache-Control"] = "no-store"
    return response


def _assign_refused(request: HttpRequest, exc: errors.DomainError) -> None:
    """Role refusals are 403 and another organisation's case 404, as for any page;
    a bad choice is a form error on the page."""
    if isinstance(exc, errors.NotFound):
        raise Http404(exc.detail)
    if isinstance(exc, errors.PermissionDenied):
        raise PermissionDenied(exc.detail)
    for message in [m for ms in exc.errors.values() for m in ms] or [exc.detail]:
        messages.error(request, message)


@require_POST
@member_required("case.assign_self")
def case_assign_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Take a case, give it up, or (admins) give it to a reviewer."""
    principal = request.principal  # type: ignore[attr-defined]
    decision = _decision_for(request, pk)
    try:
        assignee = assignee_resolve(
            principal=principal, value=request.POST.get("assignee", "")
        )
        case_assign(principal=principal, decision=decision, assignee=assignee)
    except errors.DomainError as exc:
        _assign_refused(request, exc)
    else:
        messages.success(
            request,
            f"Case #{decision.pk} assigned to {assignee.get_username()}."
            if assignee is not None
            else f"Case #{decision.pk} is unassigned.",
        )
    return redirect("web:case-detail", pk=decision.pk)


@require_POST
@member_required("case.assign_self")
def cases_assign_view(request: HttpRequest) -> HttpResponse:
    """Bulk assignment from the queue: the ticked cases to one reviewer (officers:
    to themselves); back to the same filtered page."""
    principal = request.principal  # type: ignore[attr-defined]
    back = QueryDict(request.POST.get("query", ""))
    target = f"{reverse('web:case-list')}?{back.urlencode()}"
    ids = [v for v in request.POST.getlist("cases") if v.isdigit() and len(v) <= 18]
    chosen: QuerySet[Decision] = decision_list(principal=principal).filter(
        pk__in=[int(v) for v in ids]
    )
    decisions = list(chosen)
    if len(decisions) != len(set(ids)):
        messages.error(request, "Some of the selected cases are not in your queue.")
        return redirect(target)
    try:
        assignee = assignee_resolve(
            principal=principal, value=request.POST.get("assignee", "")
        )
        changed = cases_assign_bulk(
            principal=principal, decisions=decisions, assignee=assignee
        )
    except errors.DomainError as exc:
        _assign_refused(request, exc)
    else:
        who = assignee.get_username() if assignee is not None else "nobody"
        messages.success(
            request, f"{changed} case{'s' if changed != 1 else ''} assigned to {who}."
        )
    return redirect(target)


def _decision_for(request: HttpRequest, pk: int) -> Decision:
    principal = request.principal  # type: ignore[attr-defined]
    return get_object_or_404(decision_list(principal=principal), pk=pk)


@require_GET
@member_required()
def case_detail(request: HttpRequest, pk: int) -> HttpResponse:
    principal = request.principal  # type: ignore[attr-defined]
    decision = _decision_for(request, pk)
    mv = decision.model_version
    schema = explain.parse_feature_schema(mv.feature_schema)
    specs = schema.by_name()
    # blind-first: nothing that tells the model's answer (output, explanations,
    # reviews, final outcome, dossiers) until this reviewer's preliminary view
    blind = blind_pending(principal=principal, decision=decision)
    shown = [] if blind else explanation_list(principal=principal, decision=decision)
    by_method = {e.method: e for e in shown}
    current = by_method.get(request.GET.get("method", "")) or _reasons_default(shown)
    sign = 1.0 if mv.class_labels[-1] != mv.favourable_class else -1.0
    chart = None
    explained: dict[str, object] = {}
    if current is not None:
        top = sorted(current.attributions.items(), key=lambda kv: -abs(kv[1]))[:12]
        chart = attribution_bars_svg(
            [(specs[n].label, v) for n, v in top],
            adverse_sign=sign,
            title=f"Attributions ({current.method})",
        )
        explained = _explained(current, shown, [(n, specs[n].label, v) for n, v in top])
    history = decision_history(principal=principal, decision=decision)
    reviews = [] if blind else list(review_list(principal=principal, decision=decision))
    awaiting = None if blind else review_awaiting_confirmation(decision=decision)
    reviewer = can_review(principal)
    own_standing = reviewer and any(
        r.reviewer_id == principal.user.pk and getattr(r, "superseded_by", None) is None
        for r in reviews
    )
    return render(
        request,
        "cases/detail.html",
        {
            "decision": decision,
            "mv": mv,
            "ai": decision.ai_system,
            "principal": principal,
            "inputs": [(s, decision.features.get(s.name)) for s in schema.features],
            "explanations": shown,
            "current": current,
            "chart": chart,
            **explained,
            "reviews": reviews,
            "awaiting": awaiting,
            "can_confirm": reviewer
            and awaiting is not None
            and awaiting.reviewer_id != principal.user.pk,
            "own_standing": own_standing,
            "min_supersede_reason": MIN_SUPERSEDE_REASON,
            "history": history,
            "can_review": reviewer,
            "dossiers": []
            if blind
            else decision_dossiers(principal=principal, decision=decision),
            "notices": []
            if blind
            else decision_notices(principal=principal, decision=decision),
            "notice_languages": [
                (code, name)
                for code, name in settings.LANGUAGES
                if code in notice_languages()
            ],
            "can_issue_notice": can(principal, "notice.request", decision),
            "contests": list(contest_list(principal=principal, decision=decision)),
            "actions": Review.Action.choices,
            "min_justification": MIN_JUSTIFICATION,
            "limits": text_limits,  # maxlength of each text box, as the services cap
            "ui_methods": ui_methods(decision.model_version),
            "blind": blind,
            "job_id": request.GET.get("job", ""),
            "opened_stamp": _opened_stamp(decision, principal.user),
            "drill": drill_result(principal=principal, decision=decision),
            **_assignment(principal, decision),
            "can_make_drill": not decision.is_drill
            and decision.ai_system.drill_rate > 0
            and can(principal, "drill.create", decision),
        },
    )


def _assignment(principal: Any, decision: Decision) -> dict[str, Any]:
    """Who works the case (a drill's reviewer is its drill's), whether it is past its
    AI system's review SLA, and what this person may change."""
    assignee = decision.assigned_to
    if decision.is_drill:
        drill = Drill.objects.filter(decision=decision).select_related("assigned_to")
        assignee = next((d.assigned_to for d in drill), None)
    due = decision.received_at + timedelta(hours=decision.ai_system.review_sla)
    may_assign_others = can(principal, "case.assign", decision)
    return {
        "assignee": assignee,
        "past_sla": decision.status != Decision.Status.FINAL and due < timezone.now(),
        "may_assign": can(principal, "case.assign_self", decision),
        "may_assign_others": may_assign_others,
        "assignees": case_assignees(principal=principal) if may_assign_others else [],
    }


OPENED_SALT = "compliance.web.cases.opened"


def _opened_stamp(decision: Decision, user: object) -> str:
    """A signed note of when this reviewer opened the case: the review form sends it
    back, and the review's time on the case is measured from it."""
    return signing.dumps(
        {"d": decision.pk, "u": getattr(user, "pk", None), "t": time.time()},
        salt=OPENED_SALT,
    )


def _opened_at(request: HttpRequest, decision: Decision) -> datetime | None:
    """The stamp's moment, if it is genuine, for this case and this reviewer."""
    try:
        note = signing.loads(
            request.POST.get("opened", ""),
            salt=OPENED_SALT,
            max_age=timedelta(days=7),
        )
    except signing.BadSignature:
        return None
    user = request.user
    if (
        not isinstance(note, dict)
        or note.get("d") != decision.pk
        or note.get("u") != user.pk
    ):
        return None
    return datetime.fromtimestamp(float(note["t"]), tz=UTC)


def _reasons_default(shown: list[Explanation]) -> Explanation | None:
    """The method first shown: the one the decision's reasons come from (the newest
    run's reasons method), else Integrated Gradients, else the first."""
    if not shown:
        return None
    newest = max(shown, key=lambda e: (e.created_at, e.pk))
    by_method = {e.method: e for e in shown}
    return (
        by_method.get(newest.run.reasons_method)
        or by_method.get("integrated_gradients")
        or shown[0]
    )


def _explained(
    current: Explanation, shown: list[Explanation], top: list[tuple[str, str, float]]
) -> dict[str, object]:
    """What the case page says beside the chart: the reasons (the method's own, or,
    for a method that gives none, the run's reasons method's), each attribution's
    standard error, and the counterfactual's other options."""
    source = reasons_source(current.run, fallback=current, explanations=shown)
    reasons_of = current if not current.reasons_note else source.explanation
    reasons = reasons_of.reasons if reasons_of is not None else []
    errors = reasons_of.standard_errors if reasons_of is not None else None
    return {
        "reasons_of": reasons_of,
        "reasons_source": source,
        "reasons_unstable": reasons_unstable(reasons_of),
        "reason_rows": [
            {**r, "error": standard_error_text(errors, r["feature"])} for r in reasons
        ],
        "attribution_rows": [
            {
                "label": label,
                "value": value,
                "error": standard_error_text(current.standard_errors, name),
            }
            for name, label, value in top
        ],
        "alternatives": counterfactual_alternatives(current.run.counterfactual),
    }


def _reviewer(request: HttpRequest) -> None:
    if not can_review(request.principal):  # type: ignore[attr-defined]
        raise PermissionDenied("Auditors have read-only access.")


def _reviewer_action(
    request: HttpRequest,
    pk: int,
    act: Callable[[Decision], str | None],
    success: str = "",
) -> HttpResponse:
    """Run a reviewer's POST on a case; report domain errors on the case page."""
    _reviewer(request)
    decision = _decision_for(request, pk)
    try:
        target = act(decision)
    except DomainError as exc:
        for message in [m for ms in exc.errors.values() for m in ms] or [exc.detail]:
            messages.error(request, message)
        return redirect("web:case-detail", pk=decision.pk)
    if success:
        messages.success(request, success)
    return redirect(target or f"/cases/{decision.pk}/")


@require_POST
@member_required("drill.create")
def case_drill(request: HttpRequest, pk: int) -> HttpResponse:
    """An admin builds a training drill from this case, with its correct answer."""
    decision = _decision_for(request, pk)
    try:
        drill = drill_create(
            principal=request.principal,  # type: ignore[attr-defined]
            source=decision,
            correct_outcome=request.POST.get("correct_outcome", ""),
            note=request.POST.get("note", ""),
        )
    except DomainError as exc:
        for message in [m for ms in exc.errors.values() for m in ms] or [exc.detail]:
            messages.error(request, message)
        return redirect("web:case-detail", pk=decision.pk)
    messages.success(
        request,
        f"Training drill #{drill.decision_id} built; it joins reviewers' queues at the "
        "AI system's drill rate.",
    )
    return redirect("web:case-detail", pk=decision.pk)


@require_POST
@member_required()
def case_review(request: HttpRequest, pk: int) -> HttpResponse:
    def act(decision: Decision) -> None:
        review_record(
            principal=request.principal,  # type: ignore[attr-defined]
            decision=decision,
            action=request.POST.get("action", ""),
            justification=request.POST.get("justification", ""),
            supersede_reason=request.POST.get("supersede_reason", ""),
            opened_at=_opened_at(request, decision),
        )

    return _reviewer_action(request, pk, act, "Your review was recorded.")


@require_POST
@member_required()
def case_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    """Four-eyes: a second officer confirms the overturn that waits (blind-first: not
    before their own preliminary view, as the overturn tells the model's answer)."""

    def act(decision: Decision) -> None:
        blind_pending_refuse(
            principal=request.principal,  # type: ignore[attr-defined]
            decision=decision,
        )
        review_confirm(
            principal=request.principal,  # type: ignore[attr-defined]
            decision=decision,
            note=request.POST.get("note", ""),
        )

    return _reviewer_action(
        request, pk, act, "Overturn confirmed; the decision is final."
    )


@require_POST
@member_required()
def case_explain(request: HttpRequest, pk: int) -> HttpResponse:
    def act(decision: Decision) -> str:
        job, _ = explanation_request(
            principal=request.principal,  # type: ignore[attr-defined]
            decision=decision,
            methods=ui_methods(decision.model_version),
        )
        return f"/cases/{decision.pk}/?job={job.pk}"

    return _reviewer_action(request, pk, act)


@require_POST
@member_required()
def case_dossier(request: HttpRequest, pk: int) -> HttpResponse:
    def act(decision: Decision) -> str:
        job = dossier_request(
            principal=request.principal,  # type: ignore[attr-defined]
            decision=decision,
        )
        return f"/cases/{decision.pk}/?job={job.pk}"

    return _reviewer_action(request, pk, act)


@require_POST
@member_required()
def case_preliminary(request: HttpRequest, pk: int) -> HttpResponse:
    """Blind-first review: the reviewer's view from the inputs alone, then the reveal."""

    def act(decision: Decision) -> None:
        preliminary_view_record(
            principal=request.principal,  # type: ignore[attr-defined]
            decision=decision,
            outcome=request.POST.get("outcome", ""),
            note=request.POST.get("note", ""),
        )

    return _reviewer_action(
        request, pk, act, "Preliminary view recorded; the model's output is now shown."
    )

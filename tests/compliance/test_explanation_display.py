"""What the engine reports since issue 14 is stored, served by the API and shown on the
case page and in the dossier: the reasons come from the run's reasons method (or say
why there are none), sampled attributions carry their standard errors, unstable
reasons ask for review, and the counterfactual's other options are listed cheapest
first. Explanations stored before any of this still render."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

import explain
from compliance import decisions as intake
from compliance import dossiers, explanations
from compliance.api.serializers import ExplanationOutputSerializer
from compliance.explanations.selectors import explanations_newest
from compliance.jobs import jobs_process
from compliance.models import Decision, Explanation, ExplanationRun
from compliance.principals import SYSTEM_OPERATOR, Principal
from compliance.registry import services as registry
from compliance.tenancy import services as tenancy
from demo.train import DEMOS, build_artefacts
from tests import factories

METHODS = ["saliency", "kernel_shap", "integrated_gradients"]
# a budget far too small to separate the reasons of a row Kernel SHAP must sample
SMALL_BUDGET = {"kernel_shap": {"n_samples": 4, "max_n_samples": 8}}


@pytest.fixture(scope="module")
def credit() -> tuple[bytes, dict[str, Any]]:
    return build_artefacts(DEMOS["credit"])


@pytest.fixture(scope="module")
def rows(credit) -> dict[str, dict[str, Any]]:
    """Two refused demo applicants: one whose Kernel SHAP values are sampled and, at
    the small budget, flagged unstable; one whose values are exact (few features
    differ from the baseline, so they are enumerated)."""
    weights, manifest = credit
    mv = manifest["model_version"]
    schema = explain.parse_feature_schema(mv["feature_schema"])
    model = explain.load_model(
        architecture=mv["architecture"],
        schema=schema,
        hyperparameters=mv["hyperparameters"],
        weights=weights,
        expected_sha256=None,
    )
    adverse = [
        s
        for s in manifest["sample_decisions"]
        if s["outcome"] != mv["favourable_class"]
    ]
    results = explain.explain_batch(
        model,
        [s["features"] for s in adverse],
        schema=schema,
        class_labels=mv["class_labels"],
        favourable_class=mv["favourable_class"],
        threshold=mv["decision_threshold"],
        methods=["kernel_shap"],
        parameters=SMALL_BUDGET,
    )
    quality = zip(
        adverse, [r.methods["kernel_shap"].quality for r in results], strict=True
    )
    by_kind = {
        ("exact" if q["exact"] else "sampled", q["reasons_unstable"]): s
        for s, q in reversed(list(quality))
    }
    unstable = by_kind[("sampled", True)]
    exact = by_kind[("exact", False)]
    return {"unstable": unstable, "exact": exact}


def _decision(
    credit, sample, *, methods=METHODS, parameters=SMALL_BUDGET, slug="display"
) -> Decision:
    weights, manifest = credit
    org = tenancy.organization_create(
        name=f"{slug} bank", slug=f"{slug}-bank", jurisdiction="EU+US"
    )
    client, _ = factories.make_client(org, f"{slug}-engine")
    admin = Principal(organization=org, role="admin")
    ai = registry.ai_system_register(
        principal=admin, blind_first_review=False, **manifest["ai_system"]
    )
    mv = registry.model_version_register(
        principal=admin, ai_system=ai, weights=weights, **manifest["model_version"]
    )
    data = {**sample, "model_version": mv.pk, "decided_at": timezone.now()}
    decision, _ = intake.decision_submit(
        principal=Principal(organization=org, role="client", client_system=client),
        submission=intake.Submission.from_validated(data),
    )
    explanations.explanation_request(
        principal=SYSTEM_OPERATOR,
        decision=decision,
        methods=methods,
        parameters=parameters,
    )
    jobs_process(kind="explanation", worker="test", limit=10)
    decision.refresh_from_db()
    return decision


def _stored(decision: Decision) -> dict[str, Explanation]:
    return {e.method: e for e in explanations_newest(decision)}


def _html(decision: Decision) -> str:
    return dossiers.render.dossier_html(
        dossiers.content.dossier_content(decision), public_id="DOS-TEST", version=1
    )


def _section(html: str, number: int) -> str:
    start = html.index(f"<h2>{number}. ")
    return html[start : html.index("<h2>", start + 4)]


def _as_legacy(decision: Decision) -> None:
    """Make the decision's stored explanations look as they did before issue 14."""
    runs = ExplanationRun.objects.filter(decision=decision)
    for run in runs:
        if run.counterfactual:
            run.counterfactual.pop("alternatives", None)
        run.reasons_method = ""
        run.save(update_fields=["counterfactual", "reasons_method"])
    Explanation.objects.filter(decision=decision).update(
        reasons_note="", standard_errors=None
    )


def _case_page(decision: Decision, query: str = "") -> str:
    officer = factories.make_member(decision.organization, "officer")
    browser = Client()
    browser.force_login(officer)
    response = browser.get(f"/cases/{decision.pk}/{query}")
    assert response.status_code == 200
    return response.content.decode()


# storing


def test_the_run_and_each_method_keep_what_the_engine_reports(db, credit, rows):
    decision = _decision(credit, rows["unstable"])
    stored = _stored(decision)
    run = stored["kernel_shap"].run
    assert run.reasons_method == "kernel_shap"  # the first requested that gives reasons
    assert stored["saliency"].reasons_note.startswith("Saliency gives local")
    assert stored["saliency"].reasons == []
    assert stored["kernel_shap"].reasons_note == ""
    errors = stored["kernel_shap"].standard_errors
    assert set(errors) == set(stored["kernel_shap"].attributions)
    assert max(e for e in errors.values() if e is not None) > 0
    assert stored["kernel_shap"].quality["reasons_unstable"] is True
    assert stored["integrated_gradients"].standard_errors is None  # deterministic
    assert run.counterfactual["alternatives"], "the engine found further options"
    assert "reasons_unstable" in run.needs_review_reasons


# the API


def test_the_api_serves_them_and_nulls_for_explanations_stored_before(db, credit, rows):
    decision = _decision(credit, rows["unstable"])
    data = {
        d["method"]: d
        for d in ExplanationOutputSerializer(
            explanations_newest(decision), many=True
        ).data
    }
    assert data["saliency"]["reasons_note"].startswith("Saliency gives local")
    assert data["kernel_shap"]["reasons_note"] is None
    assert {d["reasons_method"] for d in data.values()} == {"kernel_shap"}
    assert data["kernel_shap"]["standard_errors"] == (
        _stored(decision)["kernel_shap"].standard_errors
    )
    assert data["integrated_gradients"]["standard_errors"] is None
    alternatives = data["kernel_shap"]["counterfactual"]["alternatives"]
    assert alternatives and all(a["descriptions"] for a in alternatives)

    _as_legacy(decision)
    old = ExplanationOutputSerializer(explanations_newest(decision), many=True).data
    assert all(
        (d["reasons_note"], d["reasons_method"], d["standard_errors"])
        == (None, None, None)
        for d in old
    )


def test_the_openapi_schema_types_the_new_fields(world, api_as):
    schema = api_as("client").get("/api/schema/", {"format": "json"}).json()
    fields = schema["components"]["schemas"]["ExplanationOutput"]["properties"]
    assert fields["reasons_note"]["type"] == ["string", "null"]
    assert fields["reasons_method"]["type"] == ["string", "null"]
    assert fields["standard_errors"]["type"] == ["object", "null"]
    assert fields["standard_errors"]["additionalProperties"]["type"] == [
        "number",
        "null",
    ]
    counterfactual = fields["counterfactual"]
    assert counterfactual["type"] == ["object", "null"]
    alternatives = counterfactual["properties"]["alternatives"]
    assert alternatives["maxItems"] == 3
    assert alternatives["items"]["properties"]["descriptions"]["items"] == {
        "type": "string"
    }


# the dossier


def test_the_dossier_takes_its_reasons_from_the_reasons_method(db, credit, rows):
    decision = _decision(credit, rows["unstable"])
    content = dossiers.content.dossier_content(decision)
    assert content.missing == []
    html = _html(decision)
    reasons = _section(html, 5)
    # Integrated Gradients was the dossier's method before: now the run's
    # reasons method, Kernel SHAP, the first requested that gives reasons
    assert (
        'Method: Kernel SHAP <span class="method-id">kernel_shap</span>, the first requested'
    ) in reasons
    shap = _stored(decision)["kernel_shap"]
    assert [r["text"] for r in content.context["reasons"]] == [
        r["text"] for r in shap.reasons
    ]
    # each reason and attribution with its standard error
    assert "<th>Std. error</th>" in reasons
    first = shap.reasons[0]["feature"]
    assert f"± {shap.standard_errors[first]:.4f}" in reasons
    assert "Reasons unstable: review." in reasons


def test_the_dossier_lists_the_counterfactuals_other_options_cheapest_first(
    db, credit, rows
):
    decision = _decision(credit, rows["unstable"])
    alternatives = _stored(decision)["kernel_shap"].run.counterfactual["alternatives"]
    section = _section(_html(decision), 6)
    assert "Other verified options" in section
    items = re.findall(r"<li class=\"wrap\">(.*?)</li>", section.split("<ol")[1])
    assert len(items) == min(3, len(alternatives))
    ranked = sorted(alternatives, key=lambda a: a["cost"])
    for item, option in zip(items, ranked, strict=False):
        assert option["descriptions"][0].replace("'", "&#x27;") in item
        assert f"cost {option['cost']:.2f}" in item


def test_the_dossiers_quality_table_flags_unstable_reasons_and_silent_methods(
    db, credit, rows
):
    decision = _decision(credit, rows["unstable"])
    quality = _section(_html(decision), 8)
    row = {
        m: re.search(  # type: ignore[union-attr]
            rf'<tr><td>[^<]+ <span class="method-id">{m}</span></td>(.*?)</tr>', quality
        ).group(1)
        for m in METHODS
    }
    assert "reasons unstable: review" in row["kernel_shap"]
    assert "gives no reasons" in row["saliency"]
    error_max = _stored(decision)["kernel_shap"].quality["standard_error_max"]
    assert f"{error_max:.4f}" in row["kernel_shap"]
    assert _stored(decision)["kernel_shap"].run.agreement == {}
    assert "not computed (fewer than two methods that rank" in quality


def test_exact_attributions_say_exact(db, credit, rows):
    decision = _decision(credit, rows["exact"], slug="exact")
    reasons = _section(_html(decision), 5)
    assert re.search(r'<td class="num">exact</td>', reasons)
    assert "±" not in reasons and "Reasons unstable" not in reasons
    # a feature equal to the baseline gets exactly 0: it pushes neither way
    assert re.search(
        r'<td class="num">0.0000</td><td class="num">exact</td><td class="none">none',
        reasons,
    )


def test_without_a_method_that_gives_reasons_the_dossier_says_why(db, credit, rows):
    decision = _decision(
        credit, rows["unstable"], methods=["saliency"], parameters={}, slug="silent"
    )
    content = dossiers.content.dossier_content(decision)
    assert any("the requested methods give none" in m for m in content.missing)
    reasons = _section(_html(decision), 5)
    assert "No principal reasons: Saliency gives local sensitivities" in reasons
    assert "No feature pushed toward the adverse outcome" not in reasons


def test_explanations_stored_before_still_render_as_they_did(db, credit, rows):
    decision = _decision(credit, rows["unstable"], slug="legacy")
    _as_legacy(decision)
    html = _html(decision)
    # as before: Integrated Gradients' reasons, no error column, no other options
    assert (
        'Method: Integrated Gradients <span class="method-id">integrated_gradients</span>'
        in _section(html, 5)
    )
    assert "Std. error" not in html and "Other verified options" not in html
    assert dossiers.content.dossier_content(decision).missing == []
    page = _case_page(decision)
    assert "±" not in page and "Other verified options" not in page
    assert "with its standard error" not in page  # no table for a deterministic method
    assert "from Integrated Gradients" in page


# the case page


def test_the_case_page_shows_the_reasons_method_errors_and_options(db, credit, rows):
    decision = _decision(credit, rows["unstable"])
    page = _case_page(decision)
    shap = _stored(decision)["kernel_shap"]
    # first shown: the method the decision's reasons come from
    assert 'aria-current="true" title="kernel_shap"' in page
    assert "from Kernel SHAP" in page
    assert "reasons unstable: review" in page
    first = shap.reasons[0]["feature"]
    assert f"± {shap.standard_errors[first]:.4f}" in page
    assert "Other verified options, cheapest first" in page
    assert f"changed case (cost {shap.run.counterfactual['cost']:.2f})" in page
    option = shap.run.counterfactual["alternatives"][0]
    assert option["descriptions"][0].replace("'", "&#x27;") in page


def test_a_method_without_reasons_says_why_and_points_to_the_reasons_method(
    db, credit, rows
):
    decision = _decision(credit, rows["unstable"])
    page = _case_page(decision, "?method=saliency")
    assert "Saliency gives local sensitivities" in page
    assert "The decision's reasons come from Kernel SHAP" in page
    assert "No feature pushed toward the adverse outcome" not in page


def test_the_case_page_says_when_no_requested_method_gives_reasons(db, credit, rows):
    decision = _decision(
        credit, rows["unstable"], methods=["saliency"], parameters={}, slug="silent"
    )
    page = _case_page(decision)
    reasons = page[page.index("Principal reasons") : page.index("What would change")]
    assert "Saliency gives local sensitivities" in reasons
    assert reasons.count("no principal reasons") == 1  # said once
    assert "No feature pushed toward the adverse outcome" not in reasons

"""The dossier describes the baseline the primary method really used (issue 14: one
baseline per method): training medians and modes, a background sample, or none for a
local sensitivity such as saliency -- never "training medians and modes" for all."""

from __future__ import annotations

import re

import pytest

from compliance import dossiers, explanations
from compliance.jobs import jobs_process
from compliance.principals import SYSTEM_OPERATOR
from tests.compliance.dossiers.test_dossiers import _case


def _baseline_sentence(decision, methods, parameters=None) -> str:
    explanations.explanation_request(
        principal=SYSTEM_OPERATOR,
        decision=decision,
        methods=methods,
        parameters=parameters or {},
    )
    jobs_process(kind="explanation", worker="test", limit=10)
    html = dossiers.render.dossier_html(
        dossiers.content.dossier_content(decision), public_id="DOS-TEST", version=1
    )
    found = re.search(r"baseline: (\w+) \(([^)]*)\)", html)
    assert found, "no baseline sentence"
    return f"{found.group(1)} ({found.group(2)})"


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        ({}, "training (training medians and modes)"),
        (
            {"integrated_gradients": {"baseline": "zeros"}},
            "zeros (every encoded input at zero)",
        ),
    ],
)
def test_the_dossier_names_the_baseline_its_method_used(
    db, demo_artefacts, parameters, expected
):
    decision = _case(demo_artefacts, "diagnosis", "EU")
    # the dossier's primary method is Integrated Gradients, its newest explanation
    sentence = _baseline_sentence(decision, ["integrated_gradients"], parameters)
    assert sentence == expected

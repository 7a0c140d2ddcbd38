"""Request bodies in /api/schema/ say what the API refuses (findings of schemathesis runs):
unknown top-level fields and unknown or repeated explanation methods are a 400."""

from __future__ import annotations

import pytest

from explain import METHODS


@pytest.fixture
def components(world, api_as):
    schema = api_as("client").get("/api/schema/", {"format": "json"}).json()
    return schema["components"]["schemas"]


@pytest.mark.parametrize(
    "name",
    [
        "AISystemInputRequest",
        "ModelVersionInputRequest",
        "DecisionInputRequest",
        "ExplanationRequestInputRequest",
    ],
)
def test_input_bodies_allow_no_unknown_fields(components, name):
    assert components[name]["additionalProperties"] is False


def test_explanation_methods_are_the_known_ones_each_once(components):
    methods = components["ExplanationRequestInputRequest"]["properties"]["methods"]
    items = methods["items"]
    if "$ref" in items:  # drf-spectacular names its enums
        items = components[items["$ref"].rsplit("/", 1)[1]]
    assert items["enum"] == list(METHODS)
    assert methods["uniqueItems"] is True and methods["minItems"] == 1


@pytest.mark.parametrize(
    "body",
    [
        {"methods": ["saliency", "saliency"]},
        {"methods": []},
        {"methods": ["lime"]},
        {"methods": ["saliency"], "colour": "red"},
    ],
)
def test_what_the_schema_excludes_is_a_400(world, api_as, body):
    url = f"/api/v1/decisions/{world.decision.pk}/explanations/"
    response = api_as("client").post(url, body, format="json")
    assert response.status_code == 400, response.content


def test_the_feature_schema_is_published_as_the_engine_validates_it(client):
    import explain

    document = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert document["openapi"].startswith("3.1")
    published = document["components"]["schemas"]["FeatureSchema"]
    assert published == {
        k: v for k, v in explain.FEATURE_SCHEMA_JSON_SCHEMA.items() if k != "$schema"
    }
    field = document["components"]["schemas"]["ModelVersionOutput"]["properties"][
        "feature_schema"
    ]
    assert "#/components/schemas/FeatureSchema" in str(field)

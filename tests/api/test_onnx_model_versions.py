"""ONNX model versions over the API (issue 18): an exported MLP is registered, runs
converted to torch and is explained by every method like the same weights in the
registry MLP (within 1e-5); a graph that does not convert runs in onnxruntime, offers
the perturbation methods and refuses gradient methods with a 400; every crafted file
of ``tests/hostile_onnx/`` is refused naming its problem, with nothing stored."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

import explain
from compliance.jobs import jobs_process
from compliance.models import AuditEvent, Explanation, ModelVersion
from compliance.registry.loading import score_reproduce
from explain.methods import NETWORK_METHODS
from tests import factories
from tests.explain.test_onnx_torch import BACKGROUND, _round_model, export
from tests.hostile_onnx import build as hostile
from tests.schemas import TINY_BASELINE, TINY_SCHEMA, VALID_FEATURES

pytestmark = pytest.mark.filterwarnings("ignore:You are using the legacy TorchScript")

URL = "/api/v1/model-versions/"
SCHEMA = {**TINY_SCHEMA, "baseline": TINY_BASELINE, "background": BACKGROUND}
HIDDEN = [16, 8]


@pytest.fixture(scope="module")
def mlp() -> tuple[torch.nn.Module, bytes]:
    """A registry MLP, its safetensors weights and the same network as ONNX."""
    schema = explain.parse_feature_schema(SCHEMA)
    torch.manual_seed(5)
    weights = explain.model_to_safetensors(
        explain.build_model("mlp", schema, {"hidden": HIDDEN})
    )
    model = explain.load_model(
        architecture="mlp",
        schema=schema,
        hyperparameters={"hidden": HIDDEN},
        weights=weights,
        expected_sha256=None,
    )
    return weights, export(model, schema.input_width)


def _body(world: Any, version: str, **fields: Any) -> dict[str, Any]:
    return {
        "ai_system": world.ai_system.pk,
        "version": version,
        "feature_schema": json.dumps(SCHEMA),
        "class_labels": json.dumps(["good", "bad"]),
        "favourable_class": "good",
        "decision_threshold": "0.5",
        **fields,
    }


def _onnx_body(world: Any, version: str, data: bytes, kind: str = "logit") -> dict:
    return _body(
        world,
        version,
        onnx=SimpleUploadedFile("model.onnx", data),
        output=json.dumps({"kind": kind, "index": 0}),
    )


def _register(api_as: Any, body: dict[str, Any]) -> Any:
    return api_as("admin").post(URL, body, format="multipart")


def _explain(api_as: Any, world: Any, mv_id: int, methods: list[str]) -> Any:
    features = {**VALID_FEATURES, "income": 1800.0, "purpose": "education"}
    mv = ModelVersion.objects.get(pk=mv_id)
    score = score_reproduce(mv, features)
    client = api_as("client")
    decision = client.post(
        "/api/v1/decisions/",
        {
            **factories.decision_payload(mv, features=features),
            "score": score,
            "outcome": "bad" if score >= 0.5 else "good",
        },
        format="json",
    )
    assert decision.status_code == 201, decision.content
    decision_id = decision.json()["id"]
    answer = client.post(
        f"/api/v1/decisions/{decision_id}/explanations/",
        {"methods": methods, "parameters": {"seed": 4}},
        format="json",
    )
    return decision_id, answer


def _attributions(decision_id: int) -> dict[str, dict[str, float]]:
    while jobs_process(kind="explanation", worker="onnx-test", limit=4):
        pass
    return {
        e.method: e.attributions
        for e in Explanation.objects.filter(run__decision_id=decision_id)
    }


def test_an_onnx_mlp_is_explained_like_the_registry_mlp(world, api_as, mlp):
    weights, data = mlp
    response = _register(api_as, _onnx_body(world, "onnx-mlp", data))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["architecture"] == "onnx"
    assert body["execution"] == "onnx_torch"
    assert body["available_methods"] == list(NETWORK_METHODS)
    assert body["weights_sha256"] == explain.sha256_hex(data)
    assert body["onnx_plan"]["checks"]["torch_difference"] <= 1e-5
    assert response["Location"].endswith(f"{URL}{body['id']}/")
    mv = ModelVersion.objects.get(pk=body["id"])
    assert mv.weights.name.endswith(".onnx")
    event = AuditEvent.objects.get(
        action="model_version.registered", object_id=str(mv.pk)
    )
    assert event.payload["execution"] == "onnx_torch"

    registry = _register(
        api_as,
        _body(
            world,
            "registry-mlp",
            architecture="mlp",
            hyperparameters=json.dumps({"hidden": HIDDEN}),
            weights=SimpleUploadedFile("m.safetensors", weights),
        ),
    )
    assert registry.status_code == 201, registry.content
    assert registry.json()["execution"] == "torch"

    methods = list(NETWORK_METHODS)
    onnx_decision, answer = _explain(api_as, world, mv.pk, methods)
    assert answer.status_code == 202, answer.content
    registry_decision, answer = _explain(api_as, world, registry.json()["id"], methods)
    assert answer.status_code == 202, answer.content
    ours, reference = _attributions(onnx_decision), _attributions(registry_decision)
    assert set(ours) == set(methods)
    for method in methods:
        for feature, value in reference[method].items():
            assert ours[method][feature] == pytest.approx(value, abs=1e-5), (
                method,
                feature,
            )
    manifest = Explanation.objects.filter(run__decision_id=onnx_decision).first()
    assert manifest is not None and manifest.manifest["execution"] == "onnx_torch"


def test_an_onnxruntime_model_refuses_gradient_methods(world, api_as):
    data = _round_model(explain.parse_feature_schema(SCHEMA).input_width)
    response = _register(api_as, _onnx_body(world, "rounded", data))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["execution"] == "onnx_runtime"
    assert "integrated_gradients" not in body["available_methods"]
    assert "kernel_shap" in body["available_methods"]

    _, refused = _explain(api_as, world, body["id"], ["integrated_gradients"])
    assert refused.status_code == 400, refused.content
    error = refused.json()
    assert "integrated_gradients need the model's gradients" in error["detail"]
    assert "methods" in error["errors"]

    decision_id, accepted = _explain(
        api_as, world, body["id"], ["kernel_shap", "feature_ablation"]
    )
    assert accepted.status_code == 202, accepted.content
    found = _attributions(decision_id)
    assert set(found) == {"kernel_shap", "feature_ablation"}
    run = Explanation.objects.filter(run__decision_id=decision_id).first()
    assert run is not None and run.manifest["execution"] == "onnx_runtime"


def test_the_hostile_files_are_exactly_what_the_builder_makes():
    for name, (build, _code) in hostile.HOSTILE.items():
        assert (hostile.FOLDER / name).read_bytes() == build(), name
    expected = json.loads((hostile.FOLDER / "expected.json").read_text())
    assert expected == {name: code for name, (_b, code) in hostile.HOSTILE.items()}


@pytest.mark.parametrize("name", sorted(hostile.HOSTILE))
def test_every_hostile_file_is_refused_naming_its_problem(
    world, api_as, name, settings
):
    settings.ONNX_SMOKE_SECONDS = 0.5
    code = hostile.HOSTILE[name][1]
    data = Path(hostile.FOLDER / name).read_bytes()
    before = (
        set(default_storage.listdir("weights")[1])
        if default_storage.exists("weights")
        else set()
    )
    versions = ModelVersion.objects.count()
    response = _register(api_as, _onnx_body(world, f"hostile-{code}", data))
    assert response.status_code == 400, response.content
    error = response.json()
    assert f"({code})" in error["detail"], error
    assert error["errors"]["onnx"][0].startswith(f"The ONNX model is refused ({code})")
    assert ModelVersion.objects.count() == versions
    after = (
        set(default_storage.listdir("weights")[1])
        if default_storage.exists("weights")
        else set()
    )
    assert after == before


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"output": json.dumps({"kind": "odds"})}, "output.kind"),
        ({"output": json.dumps({"kind": "logit", "index": -1})}, "output.index"),
        ({"output": json.dumps(["logit"])}, "output"),
        ({"architecture": "mlp"}, "architecture"),
        (
            {"feature_schema": json.dumps({**SCHEMA, "model_input": "bytes"})},
            "feature_schema.model_input",
        ),
        # an encoded-width model declared to take one column per feature
        ({"feature_schema": json.dumps({**SCHEMA, "model_input": "raw"})}, "onnx"),
    ],
)
def test_bad_declarations_are_named(world, api_as, mlp, fields, field):
    _, data = mlp
    body = {**_onnx_body(world, "declared", data), **fields}
    response = _register(api_as, body)
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"], response.json()


def test_neither_weights_nor_onnx_is_a_400_naming_both(world, api_as):
    response = _register(api_as, _body(world, "nothing"))
    assert response.status_code == 400, response.content
    assert {"architecture", "weights"} <= set(response.json()["errors"])


def _cast_model(width: int) -> bytes:
    """A logistic model whose graph casts through int32 (a Cast torch replay here
    does not take): valid for onnxruntime, so it runs there."""
    from onnx import TensorProto, helper, numpy_helper

    weights = numpy_helper.from_array(
        np.linspace(-0.001, 0.001, width, dtype=np.float32).reshape(width, 1), "w"
    )
    nodes = [
        helper.make_node("Cast", ["x"], ["xi"], to=TensorProto.INT32),
        helper.make_node("Cast", ["xi"], ["xf"], to=TensorProto.FLOAT),
        helper.make_node("MatMul", ["xf", "w"], ["z"]),
        helper.make_node("Sigmoid", ["z"], ["p"]),
    ]
    graph = helper.make_graph(
        nodes,
        "cast",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", width])],
        [helper.make_tensor_value_info("p", TensorProto.FLOAT, ["N", 1])],
        [weights],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


def test_a_graph_torch_cannot_replay_runs_in_onnxruntime(world, api_as):
    data = _cast_model(explain.parse_feature_schema(SCHEMA).input_width)
    response = _register(api_as, _onnx_body(world, "cast", data, kind="probability"))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["execution"] == "onnx_runtime"
    assert "Cast to ONNX type" in body["onnx_plan"]["checks"]["torch_error"]


def test_a_label_output_declared_a_probability_is_refused(world, api_as, mlp):
    """Output 0 of a classifier export is often the label: integers, refused."""
    from onnx import TensorProto, helper

    _, data = mlp
    model = onnx_model(data)
    model.graph.node.append(helper.make_node("Cast", ["score"], ["label"], to=7))
    model.graph.output.insert(
        0, helper.make_tensor_value_info("label", TensorProto.INT64, ["N"])
    )
    response = _register(
        api_as,
        _onnx_body(world, "label", model.SerializeToString(), kind="probability"),
    )
    assert response.status_code == 400, response.content
    assert "(output_kind)" in response.json()["detail"]
    assert "class labels" in response.json()["errors"]["onnx"][0]


def onnx_model(data: bytes):
    import onnx

    model = onnx.ModelProto()
    model.ParseFromString(data)
    return model

"""A client generated from /api/schema/ by openapi-python-client, as a client team
would: zero generator warnings, every module imports, and the full flow runs with the
generated functions and typed models only (submit, replay, conflict, invalid, explain,
poll, read, dossier, download, verify, list), every error body parsed as the declared
error envelope."""

from __future__ import annotations

import hashlib
import importlib
import os
import pkgutil
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from compliance.jobs import jobs_process
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)
GENERATOR = shutil.which(
    "openapi-python-client", path=os.path.dirname(sys.executable)
) or shutil.which("openapi-python-client")
PACKAGE = "inspectoscope_generated_client"


@pytest.fixture
def generated(live_server: Any, tmp_path: Path) -> Any:
    if GENERATOR is None:
        pytest.skip("openapi-python-client is in requirements-dev.txt; install it")
    schema = tmp_path / "schema.json"
    with urllib.request.urlopen(  # noqa: S310 (the test's own live server)
        f"{live_server.url}/api/schema/?format=json", timeout=30
    ) as response:
        schema.write_bytes(response.read())
    env = {
        **os.environ,
        "PATH": f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}",
    }
    run = subprocess.run(  # noqa: S603 (a fixed command)
        [
            GENERATOR,
            "generate",
            "--path",
            str(schema),
            "--output-path",
            str(tmp_path / PACKAGE),
            "--meta",
            "none",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
        check=False,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "warning" not in output.lower(), output
    sys.path.insert(0, str(tmp_path))
    try:
        package = importlib.import_module(PACKAGE)
        modules = [
            importlib.import_module(m.name)
            for m in pkgutil.walk_packages(package.__path__, f"{PACKAGE}.")
        ]
        assert len(modules) > 50
        yield package
    finally:
        sys.path.remove(str(tmp_path))
        for name in [n for n in sys.modules if n.startswith(PACKAGE)]:
            del sys.modules[name]


def _api(package: Any, name: str) -> Any:
    tag, operation = name.split(".")
    return importlib.import_module(f"{package.__name__}.api.{tag}.{operation}")


def _model(package: Any, name: str) -> Any:
    return getattr(importlib.import_module(f"{package.__name__}.models"), name)


def _work(kind: str) -> None:
    while jobs_process(kind=kind, worker="generated-client-test", limit=8):
        pass


def test_the_full_flow_with_the_generated_client(
    world: Any, generated: Any, live_server: Any
) -> None:
    pkg = generated
    Error = _model(pkg, "Error")
    DecisionInputRequest = _model(pkg, "DecisionInputRequest")
    client = importlib.import_module(f"{pkg.__name__}.client").AuthenticatedClient(
        base_url=live_server.url, token=world.client_key, prefix="Api-Key"
    )
    payload = factories.decision_payload(world.model_version, external_id="gen-001")

    # submit, replay, conflict, invalid
    create = _api(pkg, "decisions.v1_decisions_create")
    first = create.sync_detailed(
        client=client, body=DecisionInputRequest.from_dict(payload)
    )
    assert first.status_code == 201, first.content
    decision = first.parsed
    assert decision.external_id == "gen-001" and decision.id > 0
    assert first.headers["Location"].endswith(f"/api/v1/decisions/{decision.id}/")
    assert first.headers["X-Request-ID"]
    replay = create.sync_detailed(
        client=client, body=DecisionInputRequest.from_dict(payload)
    )
    assert replay.status_code == 200 and replay.parsed.id == decision.id
    other = {**payload, "subject_ref": "applicant-other"}
    conflict = create.sync_detailed(
        client=client, body=DecisionInputRequest.from_dict(other)
    )
    assert conflict.status_code == 409
    assert isinstance(conflict.parsed, Error) and conflict.parsed.code
    bad = {**payload, "external_id": "gen-002", "features": {"income": "lots"}}
    invalid = create.sync_detailed(
        client=client, body=DecisionInputRequest.from_dict(bad)
    )
    assert invalid.status_code == 400
    assert isinstance(invalid.parsed, Error)
    assert any(key.startswith("features") for key in invalid.parsed.errors.to_dict())

    # explain, poll, read
    ExplanationRequest = _model(pkg, "ExplanationRequestInputRequest")
    explain = _api(pkg, "explanations.v1_decisions_explanations_create")
    queued = explain.sync_detailed(
        decision.id,
        client=client,
        body=ExplanationRequest.from_dict({"methods": ["integrated_gradients"]}),
    )
    assert queued.status_code == 202, queued.content
    job = queued.parsed
    assert queued.headers["Location"].endswith(f"/api/v1/jobs/{job.id}/")
    _work("explanation")
    poll = _api(pkg, "jobs.v1_jobs_retrieve").sync(job.id, client=client)
    assert str(poll.status) == "done" and poll.progress == 1.0
    explanations = _api(pkg, "explanations.v1_decisions_explanations_list").sync(
        decision.id, client=client
    )
    [explanation] = explanations
    assert explanation.method == "integrated_gradients"
    assert set(explanation.attributions.to_dict()) == set(payload["features"])
    assert all(isinstance(r.attribution, float) for r in explanation.reasons)
    assert explanation.manifest.weights_sha256
    missing = _api(pkg, "jobs.v1_jobs_retrieve").sync_detailed(10**9, client=client)
    assert missing.status_code == 404 and isinstance(missing.parsed, Error)

    # dossier, download, verify
    DossierIssue = _model(pkg, "DossierIssueInputRequest")
    issue = _api(pkg, "dossiers.v1_decisions_dossiers_create").sync_detailed(
        decision.id, client=client, body=DossierIssue.from_dict({})
    )
    assert issue.status_code == 202, issue.content
    _work("dossier")
    dossiers = _api(pkg, "dossiers.v1_dossiers_list").sync(client=client)
    [dossier] = [d for d in dossiers.results if d.decision == decision.id]
    download = _api(pkg, "dossiers.v1_dossiers_pdf_retrieve").sync_detailed(
        dossier.id, client=client
    )
    assert download.status_code == 200
    data = download.parsed.payload.read()
    assert data.startswith(b"%PDF")
    digest = hashlib.sha256(data).hexdigest()
    assert digest == download.headers["X-Content-SHA256"] == dossier.sha256
    VerifyJson = _model(pkg, "V1DossiersVerifyCreateJsonBody")
    verified = _api(pkg, "verification.v1_dossiers_verify_create").sync_detailed(
        client=client, body=VerifyJson.from_dict({"sha256": digest})
    )
    assert verified.status_code == 200, verified.content
    assert verified.parsed.to_dict()["public_id"] == dossier.public_id
    PublicFiles = _model(pkg, "V1PublicVerifyCreateFilesBody")
    types = importlib.import_module(f"{pkg.__name__}.types")
    import io

    public = _api(pkg, "verification.v1_public_verify_create").sync_detailed(
        client=client,
        body=PublicFiles(pdf=types.File(payload=io.BytesIO(data), file_name="d.pdf")),
    )
    assert public.status_code == 200, public.content
    assert public.parsed.genuine is True

    # list
    listed = _api(pkg, "decisions.v1_decisions_list").sync(
        client=client, external_id="gen-001"
    )
    assert [d.id for d in listed.results] == [decision.id]
    refused = _api(pkg, "webhooks.v1_webhooks_list").sync_detailed(client=client)
    assert refused.status_code == 403 and isinstance(refused.parsed, Error)

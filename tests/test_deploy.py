"""deploy/: the Helm chart rendered offline by Helm's own engine (helm-python-sdk binds Helm's Go
SDK, no helm binary) and every manifest validated against the Kubernetes schemas
(kubernetes-validate, strict); compose.yaml validated against the compose spec schema that
check-jsonschema vendors. No cluster and no Docker engine are needed."""

from __future__ import annotations

from pathlib import Path

import helm_python as helm
import jsonschema
import kubernetes_validate
import pytest
import yaml
from check_jsonschema.builtin_schemas import get_builtin_schema

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
CHART = DEPLOY / "helm" / "tastemaker"
K8S_VERSION = "1.30.0"


def render(values: dict | None = None) -> dict[str, dict]:
    with helm.Chart.load(CHART) as chart:
        manifests = chart.render(values or {}, name="tm", namespace="prod")
    docs = [d for text in manifests.values() for d in yaml.safe_load_all(text) if d]
    return {d["kind"]: d for d in docs}


def test_chart_lints_without_errors():
    assert helm.lint(str(CHART))["errors"] == []


@pytest.mark.parametrize("values", [{}, {"autoscaling": {"enabled": False}, "replicaCount": 3}])
def test_every_rendered_manifest_is_valid_kubernetes(values):
    docs = render(values)
    for doc in docs.values():
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)  # raises naming the field
    expected = {"Deployment", "Service", "ConfigMap", "PodDisruptionBudget"} | (
        {"HorizontalPodAutoscaler"} if not values else set())
    assert set(docs) == expected
    if values:
        assert docs["Deployment"]["spec"]["replicas"] == 3


def test_probes_secret_references_and_config():
    docs = render()
    container = docs["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    refs = [next(iter(e.values()))["name"] for e in container["envFrom"]]
    assert refs == ["tm-tastemaker", "tastemaker-secrets"]  # the Secret is referred to, never rendered
    assert "Secret" not in docs
    assert docs["ConfigMap"]["data"]["TASTEMAKER_BACKEND"] == "distributed"
    assert not any("password" in k.lower() or "@" in v for k, v in docs["ConfigMap"]["data"].items())
    assert docs["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]["name"] == docs["Deployment"]["metadata"]["name"]
    assert docs["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"] == \
        docs["Deployment"]["spec"]["selector"]["matchLabels"]


def test_an_invalid_value_is_caught_by_the_schema_check():
    docs = render({"service": {"port": "eighty"}})
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(docs["Service"], K8S_VERSION, strict=True)


def test_compose_file_matches_the_compose_spec():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    jsonschema.validate(compose, get_builtin_schema("vendor.compose-spec"))
    assert {"postgres", "redis", "nats", "tastemaker"} <= set(compose["services"])
    worker = compose["services"]["tastemaker"]
    assert worker["environment"]["TASTEMAKER_BACKEND"] == "distributed"
    assert {"TASTEMAKER_POSTGRES_URL", "TASTEMAKER_NATS_URL", "TASTEMAKER_REDIS_URL"} <= set(worker["environment"])
    assert "/readyz" in " ".join(worker["healthcheck"]["test"]) and "-js" in compose["services"]["nats"]["command"]
    broken = {**compose, "services": {"x": {"image": 5, "ports": "nope"}}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, get_builtin_schema("vendor.compose-spec"))

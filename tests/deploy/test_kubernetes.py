"""deploy/k8s: each manifest against the Kubernetes API schemas (kubernetes-validate, strict, offline),
then the facts the service relies on: ports, probes, settings, secrets, who migrates, and the relays."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate  # type: ignore[import-untyped]  # ships no types, and none are published
import pytest
import yaml

from tests.deploy.contract import (
    NOT_FOR_THE_RELAY,
    RELAY_PORT,
    REQUIRED_BY_THE_RELAY,
    REQUIRED_IN_PRODUCTION,
    SERVICE_SETTINGS,
)

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
MANIFEST_FILES = sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")
# The oldest Kubernetes the manifests promise to work on, and the newest the schemas know.
VERSIONS: list[str] = ["1.27", kubernetes_validate.latest_version()]
PORT = 8000
API, RELAY, WEBHOOKS = "shop-api", "shop-relay", "shop-webhooks"
SECRET_KEYS = {
    "DATABASE_URL",
    "DATABASE_REPLICA_URLS",
    "JWT_SECRET_KEY",
    "METRICS_TOKEN",
    "BROKER_URL",
    "RELAY_DATABASE_URL",
    "WEBHOOK_SECRET_KEY",
}
# The only places the service writes to, in the container: emptyDirs on a read-only root.
WRITABLE = ("/tmp", "/app/var")  # noqa: S108


def _documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def _all() -> list[dict[str, Any]]:
    return [doc for path in MANIFEST_FILES for doc in _documents(path)]


def _one(kind: str, name: str | None = None) -> dict[str, Any]:
    found = [d for d in _all() if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def _container(workload: dict[str, Any]) -> dict[str, Any]:
    containers: list[dict[str, Any]] = workload["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def _workloads() -> list[dict[str, Any]]:
    return [d for d in _all() if d["kind"] in {"Deployment", "Job"}]


def _pod_labels(workload: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = workload["spec"]["template"]["metadata"]["labels"]
    return labels


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return selector.items() <= labels.items()


def _env(workload: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in _container(workload).get("env", [])}


def _env_names(workload: dict[str, Any]) -> set[str]:
    """Every variable the container gets: its env entries and the keys of each ConfigMap it takes whole."""
    container = _container(workload)
    names = {e["name"] for e in container.get("env", [])}
    for source in container.get("envFrom", []):
        names |= set(_one("ConfigMap", source["configMapRef"]["name"])["data"])
    return names


def _probe_port(container: dict[str, Any], port: int | str) -> int:
    if isinstance(port, int):
        return port
    number: int = next(p["containerPort"] for p in container["ports"] if p.get("name") == port)
    return number


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("path", MANIFEST_FILES, ids=lambda p: p.name)
def test_every_manifest_is_valid_for_kubernetes(path: Path, version: str) -> None:
    documents = _documents(path)
    assert documents
    for doc in documents:
        kubernetes_validate.validate(doc, version, strict=True)


def test_the_validation_is_strict_about_misspelt_fields() -> None:
    deployment = copy.deepcopy(_one("Deployment", API))
    container = _container(deployment)
    container["livenesProbe"] = container.pop("livenessProbe")

    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, VERSIONS[-1], strict=True)


def test_the_kustomization_applies_every_manifest_but_the_example_secret() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())

    assert kustomization["apiVersion"] == "kustomize.config.k8s.io/v1beta1"
    assert kustomization["kind"] == "Kustomization"
    listed = kustomization["resources"]
    assert len(listed) == len(set(listed))
    assert all((K8S / name).is_file() for name in listed)
    assert set(listed) == {p.name for p in MANIFEST_FILES} - {"secret.example.yaml"}
    namespaced = [d for d in _all() if d["kind"] != "Namespace"]
    assert {d["metadata"]["namespace"] for d in namespaced} == {kustomization["namespace"]}
    workloads = _workloads()
    assert {d["metadata"]["name"] for d in workloads} == {API, RELAY, WEBHOOKS, "shop-migrate"}
    images = {_container(workload)["image"].split(":")[0] for workload in workloads}
    assert images == {image["name"] for image in kustomization["images"]}


def test_the_deployment_serves_port_8000_with_the_health_probes() -> None:
    container = _container(_one("Deployment", API))

    assert [p["containerPort"] for p in container["ports"]] == [PORT]
    probes = {kind: container[kind]["httpGet"] for kind in ("startupProbe", "livenessProbe", "readinessProbe")}
    assert probes["livenessProbe"]["path"] == "/health/live"
    assert probes["startupProbe"]["path"] == "/health/live"
    assert probes["readinessProbe"]["path"] == "/health/ready"
    assert {_probe_port(container, probe["port"]) for probe in probes.values()} == {PORT}


def test_the_service_sends_port_80_to_the_deployments_pods() -> None:
    service, deployment = _one("Service"), _one("Deployment", API)
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]

    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["selector"].items() <= pod_labels.items()
    [port] = service["spec"]["ports"]
    assert port["port"] == 80
    assert _probe_port(_container(deployment), port["targetPort"]) == PORT


def test_only_the_proxy_and_prometheus_reach_the_pods_on_the_service_port() -> None:
    policy, deployment = _one("NetworkPolicy", API), _one("Deployment", API)
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]

    assert policy["spec"]["podSelector"]["matchLabels"].items() <= pod_labels.items()
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    [rule] = policy["spec"]["ingress"]
    # Every peer is confined to a namespace (a bare podSelector would mean any pod of ours).
    assert all("namespaceSelector" in peer for peer in rule["from"])
    assert {_probe_port(_container(deployment), port["port"]) for port in rule["ports"]} == {PORT}


def test_the_deployment_rolls_out_without_losing_capacity_and_scales_with_the_hpa() -> None:
    deployment, hpa, pdb = _one("Deployment", API), _one("HorizontalPodAutoscaler"), _one("PodDisruptionBudget", API)
    spec = deployment["spec"]

    assert spec["strategy"]["type"] == "RollingUpdate"
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert spec["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items()
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "shop-api"}
    assert deployment["metadata"]["name"] == "shop-api"
    assert spec["replicas"] == hpa["spec"]["minReplicas"] >= 3
    assert hpa["spec"]["maxReplicas"] >= hpa["spec"]["minReplicas"]
    [metric] = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    # CPU utilisation is a share of the request: without one the HPA cannot act.
    assert _container(deployment)["resources"]["requests"]["cpu"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items()


def test_the_pods_stay_ready_through_a_database_failover() -> None:
    """Readiness fails with the database; a failover must not take every pod out of the Service."""
    probe = _container(_one("Deployment", API))["readinessProbe"]

    assert probe["periodSeconds"] * probe["failureThreshold"] > 15  # the failover budget, docs/scaling.md


def test_the_pods_shut_down_gracefully() -> None:
    deployment = _one("Deployment", API)
    pod = deployment["spec"]["template"]["spec"]
    pre_stop = _container(deployment)["lifecycle"]["preStop"]["exec"]["command"]
    graceful = int(_one("ConfigMap")["data"]["GRACEFUL_TIMEOUT"])

    assert pre_stop[0] == "sleep"
    # Kubernetes kills at terminationGracePeriodSeconds, counted from before the preStop pause.
    assert pod["terminationGracePeriodSeconds"] >= int(pre_stop[1]) + graceful + 3


def test_the_pods_run_as_the_images_unprivileged_user_on_a_read_only_root() -> None:
    dockerfile_user = re.search(r"^USER (\d+):(\d+)$", (REPO / "Dockerfile").read_text(), re.MULTILINE)
    assert dockerfile_user is not None
    for workload in _workloads():
        pod = workload["spec"]["template"]["spec"]
        container = _container(workload)

        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == int(dockerfile_user[1])
        assert pod["automountServiceAccountToken"] is False
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        empty_dirs = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
        assert set(WRITABLE) <= mounts.keys()
        assert {mounts[path] for path in WRITABLE} <= empty_dirs


def test_prometheus_annotations_point_at_the_metrics_endpoint() -> None:
    annotations = _one("Deployment", API)["spec"]["template"]["metadata"]["annotations"]

    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(PORT)
    assert annotations["prometheus.io/path"] == "/metrics"


def test_every_variable_the_pods_get_is_a_setting_of_the_service() -> None:
    deployment_env = _env_names(_one("Deployment", API))

    assert deployment_env <= SERVICE_SETTINGS, deployment_env - SERVICE_SETTINGS
    assert deployment_env >= REQUIRED_IN_PRODUCTION, REQUIRED_IN_PRODUCTION - deployment_env
    assert _one("ConfigMap")["data"]["SHOP_ENV"] == "production"
    assert _env_names(_one("Job")) <= SERVICE_SETTINGS


def test_every_configmap_and_secret_reference_resolves() -> None:
    secret = _one("Secret")
    for workload in _workloads():
        container = _container(workload)
        for source in container.get("envFrom", []):
            assert _one("ConfigMap", source["configMapRef"]["name"])
        for entry in container.get("env", []):
            if "valueFrom" not in entry:
                assert "value" in entry
            elif "configMapKeyRef" in entry["valueFrom"]:
                ref = entry["valueFrom"]["configMapKeyRef"]
                assert ref["key"] in _one("ConfigMap", ref["name"])["data"]
            else:
                ref = entry["valueFrom"]["secretKeyRef"]
                assert ref["name"] == secret["metadata"]["name"]
                assert ref["key"] in secret["stringData"]


def test_secrets_are_never_in_the_configmap() -> None:
    data = _one("ConfigMap")["data"]

    assert not SECRET_KEYS & data.keys()
    assert not [key for key in data if re.search("SECRET|TOKEN|PASSWORD", key)]


def test_the_example_secret_holds_only_unusable_placeholders() -> None:
    secret = _one("Secret")
    values = secret["stringData"]

    assert "data" not in secret  # base64 would hide what is committed
    assert set(values) == SECRET_KEYS
    for key in ("JWT_SECRET_KEY", "METRICS_TOKEN", "WEBHOOK_SECRET_KEY"):
        assert "CHANGE-ME" in values[key]
        assert len(values[key].encode()) < 32  # the service refuses such a key in production
    assert urlsplit(values["DATABASE_URL"]).password == "CHANGE-ME"
    assert urlsplit(values["BROKER_URL"]).password == "CHANGE-ME"
    assert urlsplit(values["RELAY_DATABASE_URL"]).password == "CHANGE-ME"
    text = (K8S / "secret.example.yaml").read_text()
    assert "kubectl" in text
    # The command that creates the real Secret names every key the pods take from it.
    assert {key for key in SECRET_KEYS if f"--from-literal={key}=" in text} == SECRET_KEYS


def test_the_job_migrates_and_the_deployment_does_not() -> None:
    job, deployment = _one("Job"), _one("Deployment", API)
    job_container, api = _container(job), _container(deployment)

    assert job_container["command"] == ["shop", "migrate"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert 0 < job["spec"]["backoffLimit"] <= 6
    assert job["spec"]["ttlSecondsAfterFinished"] > 0
    assert job_container["image"] == api["image"]
    assert "DATABASE_URL" in _env_names(job)
    assert "JWT_SECRET_KEY" not in _env_names(job)  # least privilege: migrations sign nothing
    # The pods run the image's CMD (gunicorn alone).
    assert "command" not in api
    assert "args" not in api
    assert "migrate" not in yaml.safe_dump(deployment)


# The relays: `shop relay`, two replicas, one publishing while the other stands by.


def test_the_relays_run_shop_relay_from_the_apis_image() -> None:
    relay, api = _container(_one("Deployment", RELAY)), _container(_one("Deployment", API))

    assert relay["command"] == ["shop", "relay"]
    assert "args" not in relay
    assert relay["image"] == api["image"]
    assert relay["imagePullPolicy"] == api["imagePullPolicy"]


def test_the_relays_serve_their_probes_on_the_relay_port() -> None:
    deployment = _one("Deployment", RELAY)
    container = _container(deployment)
    port = int(_env(deployment).get("RELAY_PORT", {}).get("value", RELAY_PORT))

    assert [p["containerPort"] for p in container["ports"]] == [port]
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    probes = [
        container[kind]["httpGet"] for kind in ("livenessProbe", "readinessProbe", "startupProbe") if kind in container
    ]
    assert {_probe_port(container, probe["port"]) for probe in probes} == {port}
    # The relay binds 127.0.0.1 unless told otherwise: the kubelet could not reach it.
    assert _env(deployment)["RELAY_HOST"]["value"] == "0.0.0.0"  # noqa: S104
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(port)
    assert annotations["prometheus.io/path"] == "/metrics"


def test_the_relays_get_the_database_and_the_broker_and_no_api_secret() -> None:
    relay = _one("Deployment", RELAY)
    names = _env_names(relay)
    env = _env(relay)

    assert names <= SERVICE_SETTINGS, names - SERVICE_SETTINGS
    assert names >= REQUIRED_BY_THE_RELAY, REQUIRED_BY_THE_RELAY - names
    assert not names & NOT_FOR_THE_RELAY
    # Not the whole ConfigMap: it carries the API's Redis, workers and proxy settings.
    assert "envFrom" not in _container(relay)
    assert "REDIS_URL" not in names
    # Credentials come from the Secret, never as a literal.
    for name in ("DATABASE_URL", "BROKER_URL", "RELAY_DATABASE_URL"):
        assert env[name]["valueFrom"]["secretKeyRef"]["key"] == name
    # Behind PgBouncer the relays need both: the pooler told, and their lock's direct connection.
    assert env["DB_POOLER"]["valueFrom"]["configMapKeyRef"]["key"] == "DB_POOLER"
    # Only the relays talk to the broker, and hold the lock.
    for workload in (_one("Deployment", API), _one("Job")):
        assert not {"BROKER_URL", "RELAY_DATABASE_URL"} & _env_names(workload)


def test_the_relays_keep_one_standing_by_through_rollouts_and_drains() -> None:
    deployment, pdb = _one("Deployment", RELAY), _one("PodDisruptionBudget", RELAY)
    spec = deployment["spec"]
    labels = _pod_labels(deployment)

    assert spec["replicas"] >= 2
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert _selects(spec["selector"]["matchLabels"], labels)
    assert _selects(pdb["spec"]["selector"]["matchLabels"], labels)
    assert pdb["spec"]["maxUnavailable"] < spec["replicas"]
    # Scaling them buys nothing (one publishes at a time): no autoscaler.
    assert all(
        hpa["spec"]["scaleTargetRef"]["name"] != RELAY for hpa in _all() if hpa["kind"] == "HorizontalPodAutoscaler"
    )
    pod = spec["template"]["spec"]
    # It stops within a second of SIGTERM: a short grace, and no preStop pause (it serves no traffic).
    assert 2 <= pod["terminationGracePeriodSeconds"] <= 30
    assert "lifecycle" not in _container(deployment)


def test_the_api_the_relays_and_the_deliverers_select_only_their_own_pods() -> None:
    """All name their port `http`: a Service or policy selecting two would mix them up."""
    api, relay = _pod_labels(_one("Deployment", API)), _pod_labels(_one("Deployment", RELAY))
    webhooks = _pod_labels(_one("Deployment", WEBHOOKS))
    selectors = {
        "Deployment": lambda d: d["spec"]["selector"]["matchLabels"],
        "PodDisruptionBudget": lambda d: d["spec"]["selector"]["matchLabels"],
        "NetworkPolicy": lambda d: d["spec"]["podSelector"]["matchLabels"],
        "Service": lambda d: d["spec"]["selector"],
    }

    checked = 0
    for doc in _all():
        if doc["kind"] in selectors:
            selector = selectors[doc["kind"]](doc)
            selected = [_selects(selector, labels) for labels in (api, relay, webhooks)]
            assert selected.count(True) == 1, doc["metadata"]["name"]
            checked += 1
    assert checked == 9


def test_only_prometheus_reaches_the_relays_on_the_relay_port() -> None:
    policy, deployment = _one("NetworkPolicy", RELAY), _one("Deployment", RELAY)

    assert _selects(policy["spec"]["podSelector"]["matchLabels"], _pod_labels(deployment))
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    [rule] = policy["spec"]["ingress"]
    assert rule["from"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]
    assert {_probe_port(_container(deployment), port["port"]) for port in rule["ports"]} == {RELAY_PORT}


def test_the_api_pods_take_replicas_only_when_the_secret_names_some() -> None:
    env = {item["name"]: item for item in _container(_one("Deployment", "shop-api"))["env"]}
    reference = env["DATABASE_REPLICA_URLS"]["valueFrom"]["secretKeyRef"]

    assert reference["optional"] is True
    assert _one("ConfigMap")["data"]["REPLICA_MAX_LAG_MS"] == "1000"

"""kubeadm_config: audit flags and volumes in kubeadm's ClusterConfiguration (v1beta3 and v1beta4)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ansible_collections.nodesec.kubernetes.plugins.module_utils._errors import InvalidRequestError
from ansible_collections.nodesec.kubernetes.plugins.module_utils.kubeadm_config import (
    InvalidConfigurationError,
    patch_cluster_configuration,
)

TESTDATA = Path(__file__).resolve().parents[3] / "testdata"
FLAGS = {"audit-log-path": "/var/log/kubernetes/audit-logs.txt", "audit-log-maxage": 10, "audit-log-maxbackup": 2}
VOLUMES = yaml.safe_load((TESTDATA / "static_pods" / "cks_task_volumes.yaml").read_text())


def _cluster_configuration() -> str:
    return (TESTDATA / "kubeadm" / "v1.35" / "cluster-configuration.yaml").read_text()


V1BETA3 = """apiVersion: kubeadm.k8s.io/v1beta3
kind: ClusterConfiguration
kubernetesVersion: v1.30.0
apiServer:
  extraArgs:
    authorization-mode: Node,RBAC
    audit-log-maxage: "30"
  timeoutForControlPlane: 4m0s
"""


def test_v1beta4_list_of_name_value():
    text = _cluster_configuration()
    new, changed = patch_cluster_configuration(text, FLAGS, VOLUMES)
    assert changed
    api = yaml.safe_load(new)["apiServer"]
    assert {"name": "audit-log-maxage", "value": "10"} in api["extraArgs"]
    assert {"name": "audit-log-maxbackup", "value": "2"} in api["extraArgs"]
    assert api["extraVolumes"][0] == {
        "name": "audit-policy",
        "hostPath": "/etc/kubernetes/audit",
        "mountPath": "/etc/kubernetes/audit",
        "readOnly": True,
        "pathType": "DirectoryOrCreate",
    }
    assert "readOnly" not in api["extraVolumes"][1]
    again, changed_again = patch_cluster_configuration(new, FLAGS, VOLUMES)
    assert not changed_again and again is new
    # everything else kept
    before = yaml.safe_load(text)
    after = yaml.safe_load(new)
    assert {k: v for k, v in after.items() if k != "apiServer"} == {k: v for k, v in before.items() if k != "apiServer"}


def test_v1beta4_repeated_and_removed_flags():
    new, _ignored = patch_cluster_configuration(_cluster_configuration(), {"tls-sni-cert-key": ["/a,/b", "/c,/d"]})
    args = yaml.safe_load(new)["apiServer"]["extraArgs"]
    assert [a["value"] for a in args if a["name"] == "tls-sni-cert-key"] == ["/a,/b", "/c,/d"]
    removed, changed = patch_cluster_configuration(new, {"tls-sni-cert-key": None})
    assert changed and not [
        a for a in yaml.safe_load(removed)["apiServer"]["extraArgs"] if a["name"] == "tls-sni-cert-key"
    ]


def test_v1beta3_map():
    new, changed = patch_cluster_configuration(V1BETA3, FLAGS, VOLUMES)
    api = yaml.safe_load(new)["apiServer"]
    assert changed
    assert api["extraArgs"] == {
        "authorization-mode": "Node,RBAC",
        "audit-log-maxage": "10",
        "audit-log-path": "/var/log/kubernetes/audit-logs.txt",
        "audit-log-maxbackup": "2",
    }
    assert api["timeoutForControlPlane"] == "4m0s"
    assert patch_cluster_configuration(new, FLAGS, VOLUMES) == (new, False)
    with pytest.raises(InvalidRequestError, match="v1beta4"):
        patch_cluster_configuration(V1BETA3, {"tls-sni-cert-key": ["/a", "/b"]})


def test_volume_updated_and_removed():
    new, _ignored = patch_cluster_configuration(V1BETA3, None, VOLUMES)
    moved = [dict(VOLUMES[1], host_path="/srv/audit")]
    newer, changed = patch_cluster_configuration(new, None, moved)
    vols = yaml.safe_load(newer)["apiServer"]["extraVolumes"]
    assert changed and [v["hostPath"] for v in vols if v["name"] == "audit-log"] == ["/srv/audit"]
    gone, _ignored = patch_cluster_configuration(newer, None, [{"name": "audit-log", "state": "absent"}])
    assert [v["name"] for v in yaml.safe_load(gone)["apiServer"]["extraVolumes"]] == ["audit-policy"]


@pytest.mark.parametrize(
    "text",
    [
        "kind: InitConfiguration\napiVersion: kubeadm.k8s.io/v1beta4\n",
        "apiVersion: kubeadm.k8s.io/v1beta2\nkind: ClusterConfiguration\n",
        "a: [b",
    ],
)
def test_refusals(text):
    with pytest.raises(InvalidConfigurationError):
        patch_cluster_configuration(text, FLAGS)


def test_str_subclasses_are_dumped_as_plain_strings():
    class Tagged(str):
        pass

    new, changed = patch_cluster_configuration(
        Tagged(V1BETA3),
        {Tagged("audit-log-path"): Tagged("/x/y.log")},
        [{"name": Tagged("v"), "host_path": Tagged("/x"), "mount_path": Tagged("/x")}],
    )
    assert changed and "!!python" not in new
    assert yaml.safe_load(new)["apiServer"]["extraArgs"]["audit-log-path"] == "/x/y.log"

"""The falco role's helm entry point (tasks_from: helm) against the real local Kubernetes API with
a real helm binary.

helm is built from its Go module through the Go module proxy (see HELM below). The release is
the real falcosecurity/falco chart 9.1.0 (appVersion 0.44.1) from ../shared/vendor, so the role's
values pass the chart's own templates. The API has no kubelet: no Falco pod runs, what is checked
is the release and the objects the chart renders from our values. The test installs the release,
checks the rendered objects carry our rules and driver settings (the chart's customRules
ConfigMap, its falco.yaml, its DaemonSet), upgrades it with another rule and driver, and checks
that an unchanged run changes nothing - also through the deprecated falco_install_method=helm of
the main entry point, which runs the same tasks and says it is deprecated. Files of falco_rules_files become
customRules entries of their own, checked in Falco's load order, and leave the release when they
leave the variable.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml
from kubernetes import client

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
CHART = REPO.parent / "shared" / "vendor" / "falcosecurity-falco-chart-9.1.0.tgz"
HELM = Path(os.environ.get("NODESEC_HELM", REPO / ".build" / "bin" / "helm"))

needs_helm = pytest.mark.skipif(
    not HELM.is_file(),
    reason=f"helm not found at {HELM}: build it with "
    "`GOBIN=$PWD/.build/bin go install helm.sh/helm/v3/cmd/helm@v3.19.0` (or set NODESEC_HELM)",
)

PLAYBOOK = """\
- name: Falco with the Helm chart
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Install or upgrade the Falco release
      ansible.builtin.include_role:
        name: nodesec.kubernetes.falco
        tasks_from: helm
"""
# The main entry point with falco_install_method=helm (deprecated, kept for one release).
PLAYBOOK_DEPRECATED = """\
- name: Falco with the Helm chart through the main entry point
  hosts: localhost
  connection: local
  gather_facts: false
  roles:
    - role: nodesec.kubernetes.falco
      vars:
        falco_install_method: helm
"""
DEPRECATION = "falco_install_method=helm is deprecated, use tasks_from: helm"

RULE = {
    "rule": "shell_in_container",
    "desc": "notice shell activity within a container",
    "condition": "k8s.pod.name=nginx",
    "output": "shell in a container (user=%user.name container_id=%container.id shell=%proc.name)",
    "priority": "WARNING",
}
FILE_RULE = {
    "rule": "nodesec_helm_rules_file_rule",
    "desc": "from falco_rules_files; uses a macro of falco_rules",
    "condition": "spawned_nginx_shell",
    "output": "shell from nginx (cmdline=%proc.cmdline)",
    "priority": "NOTICE",
}
MACRO = {"macro": "spawned_nginx_shell", "condition": "evt.type = execve and proc.pname = nginx"}
# Appends to a rule of falco_rules: valid only in a file Falco loads after nodesec_rules.yaml.
APPEND = {"rule": "shell_in_container", "condition": "and proc.name = bash", "override": {"condition": "append"}}
EXTRA_RULE = {
    "rule": "nodesec_helm_upgrade_rule",
    "desc": "added by the upgrade",
    "condition": "evt.type = execve and proc.name = nc",
    "output": "nc started (cmdline=%proc.cmdline)",
    "priority": "NOTICE",
}


def run_role(tmp_path: Path, kubeconfig: str, namespace: str, playbook: str = PLAYBOOK, **extra) -> dict[str, int]:
    variables = {
        "falco_helm_chart_ref": str(CHART),
        "falco_helm_chart_repo_url": "",
        "falco_helm_kubeconfig": kubeconfig,
        "falco_helm_binary_path": str(HELM),
        "falco_helm_release_namespace": namespace,
        "falco_json_output": True,
        "falco_priority": "notice",
        "falco_rules": [RULE],
        **extra,
    }
    (tmp_path / "play.yml").write_text(playbook)
    (tmp_path / "vars.yml").write_text(yaml.safe_dump(variables))
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1")
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", str(REPO / ".build" / "collections"))
    res = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "-i",
            "localhost,",
            str(tmp_path / "play.yml"),
            "-e",
            f"@{tmp_path / 'vars.yml'}",
            "-e",
            f"ansible_python_interpreter={sys.executable}",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    recap = re.search(r"^localhost\s+:\s+(.*)$", res.stdout, re.MULTILINE)
    assert recap, f"{res.stdout}\n{res.stderr}"
    counts = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", recap.group(1))}
    counts["rc"] = res.returncode
    counts["output"] = res.stdout  # type: ignore[assignment]
    return counts


@needs_helm
def test_helm_install_upgrade_and_idempotence(tmp_path, k8s_kubeconfig, k8s_client):
    namespace = f"falco-helm-{uuid.uuid4().hex[:6]}"
    core = client.CoreV1Api(k8s_client)
    apps = client.AppsV1Api(k8s_client)
    try:
        first = run_role(tmp_path, k8s_kubeconfig, namespace)
        assert first["rc"] == 0 and first["changed"] >= 1, first["output"]

        rules_cm = core.read_namespaced_config_map("falco-rules", namespace)
        rules = yaml.safe_load(rules_cm.data["nodesec_rules.yaml"])
        assert [r["rule"] for r in rules] == ["shell_in_container"]
        assert rules[0]["condition"] == "k8s.pod.name=nginx"
        falco_yaml = yaml.safe_load(core.read_namespaced_config_map("falco", namespace).data["falco.yaml"])
        assert falco_yaml["json_output"] is True and falco_yaml["priority"] == "notice"
        assert falco_yaml["engine"]["kind"] == "modern_ebpf"
        ds = apps.read_namespaced_daemon_set("falco", namespace)
        containers = [c.name for c in ds.spec.template.spec.containers]
        assert containers == ["falco"]  # falcoctl follow off by default
        assert not ds.spec.template.spec.init_containers  # falcoctl install off by default, no driver loader
        assert ds.spec.template.spec.containers[0].args == ["/usr/bin/falco"]
        # the chart loads our customRules ConfigMap through rules.d
        assert "/etc/falco/rules.d" in falco_yaml["rules_files"]
        assert ds.metadata.labels["app.kubernetes.io/version"] == "0.44.1"

        again = run_role(tmp_path, k8s_kubeconfig, namespace)
        assert again["rc"] == 0 and again["changed"] == 0, again["output"]
        assert DEPRECATION not in " ".join(again["output"].split())

        # the deprecated main-entry method runs the same tasks: the same release, unchanged
        deprecated = run_role(tmp_path, k8s_kubeconfig, namespace, playbook=PLAYBOOK_DEPRECATED)
        assert deprecated["rc"] == 0 and deprecated["changed"] == 0, deprecated["output"]
        # (the callback wraps long messages: compare with the whitespace folded)
        assert DEPRECATION in " ".join(deprecated["output"].split()), deprecated["output"]

        # zz-... sorts after nodesec_rules.yaml, so it may append to a rule of falco_rules
        files = [{"name": "zz-nodesec-files.yaml", "rules": [FILE_RULE, APPEND]}]
        upgraded = run_role(
            tmp_path,
            k8s_kubeconfig,
            namespace,
            falco_rules=[RULE, EXTRA_RULE, MACRO],
            falco_rules_files=files,
            falco_driver="kmod",
        )
        assert upgraded["rc"] == 0 and upgraded["changed"] >= 1, upgraded["output"]
        data = core.read_namespaced_config_map("falco-rules", namespace).data
        assert sorted(data) == ["nodesec_rules.yaml", "zz-nodesec-files.yaml"]
        rules = yaml.safe_load(data["nodesec_rules.yaml"])
        assert [r.get("rule", r.get("macro")) for r in rules] == [
            "shell_in_container",
            "nodesec_helm_upgrade_rule",
            "spawned_nginx_shell",
        ]
        assert [r["rule"] for r in yaml.safe_load(data["zz-nodesec-files.yaml"])] == [
            "nodesec_helm_rules_file_rule",
            "shell_in_container",
        ]
        falco_yaml = yaml.safe_load(core.read_namespaced_config_map("falco", namespace).data["falco.yaml"])
        assert falco_yaml["engine"]["kind"] == "kmod"
        ds = apps.read_namespaced_daemon_set("falco", namespace)
        # kmod: the chart's driver loader init container
        assert [c.name for c in ds.spec.template.spec.init_containers] == ["falco-driver-loader"]
        history = subprocess.run(
            [str(HELM), "history", "falco", "-n", namespace, "--kubeconfig", k8s_kubeconfig, "-o", "json"],
            capture_output=True,
            text=True,
            check=True,
        )
        assert len(yaml.safe_load(history.stdout)) == 2

        broken = dict(RULE, condition="k8s.pod.name=nginx and")
        failed = run_role(tmp_path, k8s_kubeconfig, namespace, falco_rules=[broken])
        assert failed["rc"] != 0 and "syntax error" in failed["output"], failed["output"]
        history = subprocess.run(
            [str(HELM), "history", "falco", "-n", namespace, "--kubeconfig", k8s_kubeconfig, "-o", "json"],
            capture_output=True,
            text=True,
            check=True,
        )
        assert len(yaml.safe_load(history.stdout)) == 2  # the invalid rule never reached the cluster

        # The same file loaded before nodesec_rules.yaml appends to a rule not yet defined: the
        # controller-side check, which follows Falco's load order, refuses it.
        early = [{"name": "00-nodesec-files.yaml", "rules": [FILE_RULE, APPEND]}]
        refused = run_role(
            tmp_path, k8s_kubeconfig, namespace, falco_rules=[RULE, EXTRA_RULE, MACRO], falco_rules_files=early
        )
        assert refused["rc"] != 0 and "00-nodesec-files.yaml" in refused["output"], refused["output"]
        assert "shell_in_container" in refused["output"], refused["output"]

        # The file leaves the variable: it leaves the release too.
        dropped = run_role(tmp_path, k8s_kubeconfig, namespace, falco_rules=[RULE, EXTRA_RULE, MACRO])
        assert dropped["rc"] == 0 and dropped["changed"] >= 1, dropped["output"]
        assert sorted(core.read_namespaced_config_map("falco-rules", namespace).data) == ["nodesec_rules.yaml"]
    finally:
        subprocess.run(
            [str(HELM), "uninstall", "falco", "-n", namespace, "--kubeconfig", k8s_kubeconfig],
            capture_output=True,
            check=False,
        )
        with contextlib.suppress(client.exceptions.ApiException):
            core.delete_namespace(namespace)

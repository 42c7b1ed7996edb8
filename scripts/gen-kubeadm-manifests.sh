#!/usr/bin/env bash
# Regenerate tests/testdata/kubeadm/v<minor>/*.yaml: the static-pod manifests exactly as the
# real kubeadm of the Kubernetes version in use writes them to /etc/kubernetes/manifests on a
# control-plane node (`kubeadm init phase control-plane all` + `kubeadm init phase etcd local`).
#
# kubeadm runs chrooted (`--rootfs`) into a throw-away directory, so it writes the manifests to
# <tmp>/etc/kubernetes/manifests and never touches the machine's /etc/kubernetes, while the
# paths inside the manifests stay the real ones (/etc/kubernetes/pki, ...). Needs root (chroot).
#
#   scripts/gen-kubeadm-manifests.sh                # kubeadm alone from scripts/k8s-binaries.sh
#   K8S_VERSION=1.34.12 scripts/gen-kubeadm-manifests.sh
#   KUBEADM=/path/to/kubeadm scripts/gen-kubeadm-manifests.sh
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Only kubeadm is needed here: build it alone (no kube-apiserver, controller manager or etcd).
KUBEADM="${KUBEADM:-$(K8S_CMDS_ONLY=kubeadm "$REPO/scripts/k8s-binaries.sh")/kubeadm}"
VERSION="$("$KUBEADM" version -o short)"            # e.g. v1.35.4
MINOR="$(cut -d. -f1,2 <<<"${VERSION#v}")"            # e.g. 1.35
OUT="$REPO/tests/testdata/kubeadm/v$MINOR"

root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/etc/kubernetes/manifests" "$root/tmp"
# kubeadm mounts the host's CA bundle folders into the control-plane pods when they exist;
# these are the ones a Debian/Ubuntu node has (ca-certificates package).
mkdir -p "$root/etc/ssl/certs" "$root/etc/ca-certificates" "$root/usr/share/ca-certificates" \
  "$root/usr/local/share/ca-certificates"

# A typical single-control-plane kubeadm cluster (Flannel-style pod CIDR). 192.0.2.10 is a
# documentation address (RFC 5737): it is data inside the manifests, nothing connects to it.
cat >"$root/tmp/kubeadm.yaml" <<EOF
apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
localAPIEndpoint:
  advertiseAddress: 192.0.2.10
  bindPort: 6443
nodeRegistration:
  name: control-plane-1
  criSocket: unix:///var/run/containerd/containerd.sock
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: $VERSION
clusterName: kubernetes
certificatesDir: /etc/kubernetes/pki
imageRepository: registry.k8s.io
networking:
  dnsDomain: cluster.local
  serviceSubnet: 10.96.0.0/12
  podSubnet: 10.244.0.0/16
etcd:
  local:
    dataDir: /var/lib/etcd
EOF

"$KUBEADM" init phase control-plane all --config /tmp/kubeadm.yaml --rootfs "$root" >&2
"$KUBEADM" init phase etcd local --config /tmp/kubeadm.yaml --rootfs "$root" >&2

mkdir -p "$OUT"
for f in kube-apiserver kube-controller-manager kube-scheduler etcd; do
  install -m 0644 "$root/etc/kubernetes/manifests/$f.yaml" "$OUT/$f.yaml"
done
# kubeadm's config is two YAML documents; keep one per file (one document per YAML file is
# what ansible-test's yamllint accepts): the InitConfiguration and the ClusterConfiguration
# (the latter is also what the kubeadm-config ConfigMap holds).
awk -v out="$OUT" 'BEGIN { n = 0 } /^---/ { n++; next } { f = (n == 0 ? "init" : "cluster"); print > (out "/" f "-configuration.yaml") }' "$root/tmp/kubeadm.yaml"
echo "wrote kube-apiserver, kube-controller-manager, kube-scheduler, etcd, init- and cluster-configuration.yaml to ${OUT#"$REPO"/} (kubeadm $VERSION)" >&2

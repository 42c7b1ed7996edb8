# nodesec.kubernetes — developer entry points.
#   make demo   bring up the kubeadm lab and walk through site.yml on it (scripts/lab-demo.sh)
#   make test   the whole test suite, in order, stopping at the first failure
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV ?= .venv
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/.build/collections
export ANSIBLE_FORCE_COLOR ?= 0
export MOLECULE_GLOB := molecule/*/molecule.yml

.PHONY: help venv docker images helm falco k8s-binaries k8s-up k8s-down k8s-status lab-seed kubeadm-manifests \
        lab-up lab-down lab-status demo demo-kubeadm test matrix bench-pod-compliance \
        ruff lint sanity unit integration molecule build clean

help:
	@echo "make demo   bring up the kubeadm lab, run playbooks/site.yml on it, show the walkthrough"
	@echo "make test   ruff, ansible-lint, ansible-test sanity, unit, integration, molecule"
	@echo "make matrix lint, sanity, unit, API and molecule tests on every supported ansible-core/Python"
	@echo "other: venv docker images k8s-binaries k8s-up k8s-down lab-up lab-down lab-status build clean"

$(VENV)/.stamp: test-requirements.txt requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r test-requirements.txt
	mkdir -p .build/collections/ansible_collections/nodesec
	ln -sfn $(CURDIR) .build/collections/ansible_collections/nodesec/kubernetes
	touch $@

venv: $(VENV)/.stamp

test: venv
	scripts/test.sh

# The controller version matrix (ansible-core 2.17 to 2.21, Python 3.11 to 3.13): scripts/matrix.sh
matrix:
	scripts/matrix.sh

docker:
	scripts/docker-engine.sh

images: docker
	scripts/build-images.sh

k8s-binaries:
	scripts/k8s-binaries.sh

helm:
	scripts/helm-binary.sh

falco:
	scripts/falco-build.sh

k8s-up: venv
	scripts/k8s-api.sh start

k8s-down:
	scripts/k8s-api.sh stop

k8s-status:
	scripts/k8s-api.sh status

lab-seed: venv
	ansible-playbook scripts/lab/lab_seed.yml

kubeadm-manifests:
	scripts/gen-kubeadm-manifests.sh

# The kubeadm lab (scripts/lab-kubeadm.sh): real nodes with kubelets, the sample workloads.
lab-up: venv
	scripts/lab-kubeadm.sh up

# Removes the kubeadm lab and the fast lab (scripts/lab.sh down) and restores the host.
lab-down:
	scripts/lab.sh down

lab-status:
	scripts/lab-kubeadm.sh status

demo: venv
	scripts/lab-demo.sh

demo-kubeadm: demo

build: venv
	mkdir -p .build/dist
	ansible-galaxy collection build --force --output-path .build/dist .

bench-pod-compliance: venv
	$(PY) bench/pod_compliance_bench.py --sizes 1000 10000 --repeats 5 --delete 1000 --parallelism 10 32 --json bench/results/pod_compliance.json

clean:
	rm -rf .build .pytest_cache .ruff_cache tests/output

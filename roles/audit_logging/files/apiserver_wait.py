"""Wait on the node for the kube-apiserver static pod the kubelet (re)starts; private to the role.

Run by roles/audit_logging (ansible.builtin.script), prints one JSON object.

    apiserver_wait.py snapshot [--crictl crictl]
        the running kube-apiserver pod and every kube-apiserver sandbox there is:
        {"pod_uid": ..., "container_id": ..., "sandboxes": [...]}
    apiserver_wait.py wait --not-uid UID [--not-sandboxes ID,ID] --url URL --cacert CA [--server-name kubernetes]
                           [--cert C --key K] --timeout S --settle S [--crictl crictl]
        wait until a kube-apiserver pod other than UID, in a sandbox not listed, runs (a static
        pod's UID is the hash of its manifest, so a changed manifest gives a new UID and the
        restored one the old UID; either starts in a new sandbox)
        and its /readyz answers 200 over TLS verified with the cluster CA, then stays so for
        --settle seconds. Exit 0 when it does; 2 at the deadline; 3 as soon as a container of
        the new pod has exited (the API server crash-loops: no point waiting).

Every wait is one deadline (time.monotonic), whatever each probe takes.
"""

from __future__ import annotations

import argparse
import json
import socket
import ssl
import subprocess
import sys
import time

CONTAINER = "kube-apiserver"


def crictl(binary, *args):
    out = subprocess.run([binary, *args, "-o", "json"], capture_output=True, timeout=10, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{binary} {' '.join(args)}: {out.stderr.decode(errors='replace').strip()}")
    return json.loads(out.stdout or b"{}")


def apiserver_pods(binary):
    """Sandboxes of kube-apiserver static pods, newest first: (uid, sandbox id, state)."""
    items = crictl(binary, "pods", "--namespace", "kube-system", "--label", f"component={CONTAINER}").get("items") or []
    items.sort(key=lambda p: int(p.get("createdAt") or 0), reverse=True)
    return [(p["metadata"]["uid"], p["id"], p["state"]) for p in items]


def containers(binary, sandbox):
    found = crictl(binary, "ps", "-a", "--pod", sandbox, "--name", f"^{CONTAINER}$").get("containers") or []
    return [(c["id"], c["state"], int(c["metadata"].get("attempt") or 0)) for c in found]


def running(binary):
    """(pod uid, container id) of the running kube-apiserver, or (None, None)."""
    for uid, sandbox, state in apiserver_pods(binary):
        if state != "SANDBOX_READY":
            continue
        for cid, cstate, _attempt in containers(binary, sandbox):
            if cstate == "CONTAINER_RUNNING":
                return uid, cid
    return None, None


def readyz(url, cacert, server_name, cert, key, timeout):
    """HTTP status of GET url (TLS verified with cacert, name checked against server_name)."""
    rest = url.split("://", 1)[1]
    hostport, _sep, path = rest.partition("/")
    host, _sep, port = hostport.rpartition(":")
    ctx = ssl.create_default_context(cafile=cacert)
    if cert:
        ctx.load_cert_chain(cert, key or None)
    try:
        with (
            socket.create_connection((host.strip("[]"), int(port or 443)), timeout=timeout) as raw,
            ctx.wrap_socket(raw, server_hostname=server_name or host) as tls,
        ):
            tls.sendall(f"GET /{path} HTTP/1.1\r\nHost: {hostport}\r\nConnection: close\r\n\r\n".encode())
            head = tls.recv(64).decode("latin-1")
        return int(head.split(" ", 2)[1]), ""
    except ssl.SSLCertVerificationError as exc:
        return -2, f"TLS verification failed: {exc.verify_message}"
    except (OSError, ValueError, IndexError) as exc:
        return -1, str(exc)


def wait(args):
    start = time.monotonic()
    deadline = start + args.timeout
    last = {"status": None, "error": ""}
    new_uid = cid = None
    ready_since = None
    excluded = {s for s in args.not_sandboxes.split(",") if s}
    while True:
        now = time.monotonic()
        if now >= deadline:
            break
        pods = apiserver_pods(args.crictl)
        # Sandboxes that existed before the change (a crash-looped pod of an earlier run the
        # kubelet has not cleaned up yet) are never "the new pod": the kubelet starts every pod
        # of a changed or restored manifest in a new sandbox.
        new = [p for p in pods if p[0] != args.not_uid and p[1] not in excluded]
        if new:
            uid, sandbox, _state = new[0]
            conts = containers(args.crictl, sandbox)
            exited = [c for c in conts if c[1] == "CONTAINER_EXITED"]
            run = [c for c in conts if c[1] == "CONTAINER_RUNNING"]
            if exited and not run:
                return 3, {
                    "msg": f"the new kube-apiserver (pod {uid}) exited {len(exited)} time(s) after "
                    f"{now - start:.1f}s: it crash-loops",
                    "pod_uid": uid,
                    "elapsed": round(now - start, 1),
                }
            old_running = any(p[0] == args.not_uid and p[2] == "SANDBOX_READY" for p in pods)
            if run and not old_running:
                if (uid, run[0][0]) != (new_uid, cid):
                    new_uid, cid, ready_since = uid, run[0][0], None
                status, error = readyz(
                    args.url,
                    args.cacert,
                    args.server_name,
                    args.cert,
                    args.key,
                    max(0.5, min(3.0, deadline - time.monotonic())),
                )
                last = {"status": status, "error": error}
                if status == 200:
                    ready_since = ready_since or time.monotonic()
                    if time.monotonic() - ready_since >= args.settle:
                        return 0, {
                            "msg": f"kube-apiserver pod {uid} ready after {ready_since - start:.1f}s, "
                            f"still ready {args.settle}s later",
                            "pod_uid": uid,
                            "container_id": cid,
                            "elapsed": round(ready_since - start, 1),
                        }
                else:
                    ready_since = None
        time.sleep(max(0.0, min(1.0, deadline - time.monotonic())))
    what = (
        f"pod {new_uid} running, /readyz {last['status']} {last['error']}".strip()
        if new_uid
        else "the kubelet has not started a kube-apiserver pod from the new manifest"
    )
    return 2, {
        "msg": f"no ready kube-apiserver within {args.timeout}s ({what})",
        "pod_uid": new_uid,
        "elapsed": round(time.monotonic() - start, 1),
    }


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    snap = sub.add_parser("snapshot")
    snap.add_argument("--crictl", default="crictl")
    w = sub.add_parser("wait")
    w.add_argument("--crictl", default="crictl")
    w.add_argument("--not-uid", default="")
    w.add_argument("--not-sandboxes", default="")
    w.add_argument("--url", required=True)
    w.add_argument("--cacert", required=True)
    w.add_argument("--server-name", default="")
    w.add_argument("--cert", default="")
    w.add_argument("--key", default="")
    w.add_argument("--timeout", type=float, required=True)
    w.add_argument("--settle", type=float, default=0)
    args = parser.parse_args(argv)
    try:
        if args.cmd == "snapshot":
            uid, cid = running(args.crictl)
            sandboxes = [p[1] for p in apiserver_pods(args.crictl)]
            rc, result = 0, {"pod_uid": uid or "", "container_id": cid or "", "sandboxes": sandboxes}
        else:
            rc, result = wait(args)
    except (OSError, RuntimeError, subprocess.TimeoutExpired, ValueError) as exc:
        rc, result = 1, {"msg": f"{type(exc).__name__}: {exc}"}
    result["rc"] = rc
    print(json.dumps(result))
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Forward a loopback port of this machine into a lab node's network namespace.

The kubeadm lab's nodes have no address on the host: each sits in its own network namespace
(Docker --network none) joined only to the lab's own namespace. This is how the controller
reaches cp1's API server anyway: it listens on 127.0.0.1:PORT here and, for each connection,
opens the upstream socket from a thread that has entered the node's network namespace
(setns(2) moves only the calling thread), so nothing is routed, bridged or masqueraded.

    lab_forward.py --listen 127.0.0.1:16444 --container nodesec-kcp1 --target 127.0.0.1:6443 \
        --pidfile FILE

The container's PID is looked up again when its network namespace is gone (node restarted).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


class Target:
    def __init__(self, container: str, host: str, port: int) -> None:
        self.container = container
        self.host = host
        self.port = port
        self._pid = 0
        self._lock = threading.Lock()

    def netns_path(self) -> str:
        with self._lock:
            if not self._pid or not os.path.exists(f"/proc/{self._pid}/ns/net"):
                out = subprocess.run(
                    ["docker", "inspect", "--format", "{{.State.Pid}}", self.container],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    text=True,
                    check=False,
                )
                self._pid = int(out.stdout.strip() or 0) if out.returncode == 0 else 0
                if not self._pid:
                    raise OSError(f"container {self.container} is not running")
            return f"/proc/{self._pid}/ns/net"

    def connect(self) -> socket.socket:
        fd = os.open(self.netns_path(), os.O_RDONLY)
        try:
            setns(fd)  # this thread only; it serves one connection and ends
        finally:
            os.close(fd)
        return socket.create_connection((self.host, self.port), timeout=10)


def pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)


def serve(client: socket.socket, target: Target) -> None:
    try:
        upstream = target.connect()
    except OSError as exc:
        print(f"lab_forward: {target.container} {target.host}:{target.port}: {exc}", file=sys.stderr)
        client.close()
        return
    upstream.settimeout(None)
    back = threading.Thread(target=pipe, args=(upstream, client), daemon=True)
    back.start()
    pipe(client, upstream)
    back.join()
    client.close()
    upstream.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", required=True, help="127.0.0.1:PORT (loopback only)")
    parser.add_argument("--container", required=True)
    parser.add_argument("--target", required=True, help="HOST:PORT inside the node")
    parser.add_argument("--pidfile")
    args = parser.parse_args(argv)
    host, port = args.listen.rsplit(":", 1)
    if not host.startswith("127."):
        print("lab_forward: --listen must be a loopback address", file=sys.stderr)
        return 2
    thost, tport = args.target.rsplit(":", 1)
    target = Target(args.container, thost, int(tport))
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, int(port)))
    listener.listen(128)
    if args.pidfile:
        with open(args.pidfile, "w", encoding="ascii") as handle:
            handle.write(f"{os.getpid()}\n")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        client, _peer = listener.accept()
        threading.Thread(target=serve, args=(client, target), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""A lock on the node for one run of the audit_logging role at a time; private to the role.

Run by roles/audit_logging (ansible.builtin.script), prints one JSON object.

    audit_lock.py acquire --path DIR --owner TOKEN --wait S --lease S [--who TEXT]
        take the lock (mkdir DIR: atomic, one winner); while another run holds it, wait for at
        most S seconds (one deadline). A lock whose lease has run out (its run was killed before
        it could release it) is taken over, and said so. rc 0: held; rc 1: not held (msg says by
        whom, since when, until when, and how to remove it).
    audit_lock.py release --path DIR --owner TOKEN
        remove the lock if TOKEN holds it (a lock taken over by another run is left alone).

Two runs of the role at once on one node would otherwise each read the manifest before the
other's change and the second would write its change over a file without the first's (a lost
update), and each would take the other's API server restart for its own.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
import uuid

INFO = "owner.json"


def out(rc, msg, **extra):
    print(json.dumps({"rc": rc, "msg": msg, **extra}))
    return 0


def read_owner(path):
    try:
        with open(os.path.join(path, INFO), encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return None  # just made by another run, its owner file not written yet
    except (OSError, ValueError):
        return {}


def stamp(epoch):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def acquire(args):
    start = time.monotonic()
    deadline = start + args.wait
    taken_over = ""
    os.makedirs(os.path.dirname(args.path) or "/", exist_ok=True)
    while True:
        try:
            os.mkdir(args.path, 0o700)
        except FileExistsError:
            holder = read_owner(args.path)
            if holder is not None and holder.get("owner") == args.owner:
                return out(0, "already held by this run", waited=0)
            now = time.time()
            if holder is not None and float(holder.get("expires", 0)) < now:
                # The holder's lease has run out: its run ended without releasing (killed).
                # Move it aside first (rename is atomic: only one run takes it over).
                stale = f"{args.path}.stale-{uuid.uuid4().hex[:8]}"
                try:
                    os.rename(args.path, stale)
                except OSError:
                    time.sleep(0.2)  # another run moved it first
                    continue
                shutil.rmtree(stale, ignore_errors=True)
                ended = stamp(float(holder.get("expires", 0)))
                taken_over = f"; took over a lock whose lease ran out at {ended} ({holder.get('who', 'unknown run')})"
                continue
            if time.monotonic() >= deadline:
                holder = holder or {}
                return out(
                    1,
                    f"another run of the audit_logging role holds {args.path} on this node "
                    f"({holder.get('who', 'unknown run')}, since {stamp(float(holder.get('acquired', 0)))}, "
                    f"lease until {stamp(float(holder.get('expires', 0)))}); waited {args.wait}s "
                    "(audit_logging_lock_timeout). Nothing was changed by this run. If no other run is active "
                    f"(one was killed), the lock is taken over once its lease ends, or remove {args.path}",
                    holder=holder,
                )
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
            continue
        now = time.time()
        info = {"owner": args.owner, "who": args.who, "acquired": now, "expires": now + args.lease}
        tmp = os.path.join(args.path, f".{INFO}.tmp")
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(info, handle)
        os.rename(tmp, os.path.join(args.path, INFO))
        waited = round(time.monotonic() - start, 1)
        return out(0, f"lock {args.path} held after waiting {waited}s{taken_over}", waited=waited)


def release(args):
    holder = read_owner(args.path)
    if holder is None and not os.path.isdir(args.path):
        return out(0, "not held")
    if holder is not None and holder.get("owner") != args.owner:
        return out(0, f"held by another run ({holder.get('who', 'unknown')}): left alone")
    shutil.rmtree(args.path, ignore_errors=True)
    return out(0, f"released {args.path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    a = sub.add_parser("acquire")
    a.add_argument("--path", required=True)
    a.add_argument("--owner", required=True)
    a.add_argument("--who", default="")
    a.add_argument("--wait", type=float, required=True)
    a.add_argument("--lease", type=float, required=True)
    r = sub.add_parser("release")
    r.add_argument("--path", required=True)
    r.add_argument("--owner", required=True)
    args = parser.parse_args(argv)
    try:
        return acquire(args) if args.command == "acquire" else release(args)
    except OSError as exc:
        return out(1, f"lock {args.path}: {exc}")


if __name__ == "__main__":
    sys.exit(main())

"""Pack a root folder as a one-layer image archive in `docker save` format.

The lab's kubeadm nodes have no registry to pull from: scripts/k8s-images.sh builds each image
as a root folder (a static binary in an empty root, or a Debian root) and this packs it so that
`ctr -n k8s.io images import` (or `docker load`) takes it under the tag kubeadm expects.

    k8s_image_pack.py ROOT TAG OUT.tar [--entrypoint JSON] [--cmd JSON] [--env K=V]... \
        [--workdir DIR] [--user USER]

The archive is reproducible: files are sorted, owned by root (or as found with --keep-owner),
and their times are set to 0, so the same root gives the same image ID.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import stat
import sys
import tarfile


def add_tree(tar: tarfile.TarFile, root: str, keep_owner: bool) -> None:
    """Add every entry below root, sorted, with normalised metadata."""
    entries = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            entries.append(os.path.join(dirpath, name))
    for path in sorted(entries, key=lambda p: os.path.relpath(p, root)):
        arcname = os.path.relpath(path, root)
        info = tar.gettarinfo(path, arcname)
        info.mtime = 0
        if not keep_owner:
            info.uid = info.gid = 0
        info.uname = info.gname = ""
        if info.isreg():
            with open(path, "rb") as handle:
                tar.addfile(info, handle)
        else:
            tar.addfile(info)


def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root")
    parser.add_argument("tag")
    parser.add_argument("out")
    parser.add_argument("--entrypoint", type=json.loads, default=None)
    parser.add_argument("--cmd", type=json.loads, default=None)
    parser.add_argument("--env", action="append", default=[])
    parser.add_argument("--workdir", default="/")
    parser.add_argument("--user", default="")
    parser.add_argument("--keep-owner", action="store_true", help="keep file owners (a Debian root)")
    args = parser.parse_args(argv)

    if not os.path.isdir(args.root):
        print(f"k8s_image_pack: {args.root}: not a folder", file=sys.stderr)
        return 2
    if ":" not in args.tag.rsplit("/", 1)[-1]:
        print(f"k8s_image_pack: tag {args.tag!r} needs a version (name:tag)", file=sys.stderr)
        return 2

    tmp = args.out + ".tmp"
    layer_path = args.out + ".layer"
    with tarfile.open(layer_path, "w", format=tarfile.PAX_FORMAT) as layer:
        add_tree(layer, args.root, args.keep_owner)
    diff_id = sha256_file(layer_path)
    env = args.env or ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": "1970-01-01T00:00:00Z",
        "config": {
            "Env": env,
            "Entrypoint": args.entrypoint,
            "Cmd": args.cmd,
            "WorkingDir": args.workdir,
            "User": args.user,
            "Labels": {"org.nodesec.lab.image": args.tag},
        },
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{diff_id}"]},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "nodesec k8s_image_pack.py"}],
    }
    config_bytes = json.dumps(config, sort_keys=True).encode()
    config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
    manifest = [{"Config": config_name, "RepoTags": [args.tag], "Layers": [f"{diff_id}/layer.tar"]}]

    def add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mode = 0o644
        tar.addfile(info, io.BytesIO(data))

    with tarfile.open(tmp, "w") as out:
        dir_info = tarfile.TarInfo(diff_id)
        dir_info.type = tarfile.DIRTYPE
        dir_info.mode = stat.S_IFDIR | 0o755
        out.addfile(dir_info)
        out.add(layer_path, f"{diff_id}/layer.tar")
        add_bytes(out, config_name, config_bytes)
        add_bytes(out, "manifest.json", json.dumps(manifest).encode())
        repo, tag = args.tag.rsplit(":", 1)
        add_bytes(out, "repositories", json.dumps({repo: {tag: diff_id}}).encode())
    os.unlink(layer_path)
    os.replace(tmp, args.out)
    print(f"{args.tag} sha256:{hashlib.sha256(config_bytes).hexdigest()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

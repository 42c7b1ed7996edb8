"""Write plugins/module_utils/_falco_catalogue.py from the JSON listings of the real Falco binary.

Run by scripts/falco-catalogue.sh (python3, no shebang, like k8s_lab.py):
    python3 scripts/falco_differential/catalogue.py CATALOGUE_DIR OUT_MODULE [LIBS_TARBALL]
CATALOGUE_DIR holds what the script exported: fields.json (falco --list --format json, the
container plugin loaded), events.json (falco --list-events --format json), events-all.json
(the same with -v) and version.txt (falco --version).

The binary does not list everything its filter compiler knows: deprecated and table-only
fields (evt.dir, evt.latency, ...) resolve but are not listed, and two field flags matter to
the compiler but are not printed (no right-hand-side use, no transformers). Those come from
the field tables of the libs sources the binary was built from (LIBS_TARBALL, the vendored
falcosecurity-libs tarball), read at generation time.
"""

import json
import os
import re
import sys
import tarfile

# libsinsp source file -> the field class (as falco --list names it) its table belongs to, and
# which of the two "evt" classes (0: generic event fields, 1: event fields)
SOURCE_CLASSES = {
    "sinsp_filtercheck_gen_event.cpp": ("evt", 0),
    "sinsp_filtercheck_event.cpp": ("evt", 1),
    "sinsp_filtercheck_thread.cpp": ("process", 0),
    "sinsp_filtercheck_user.cpp": ("user", 0),
    "sinsp_filtercheck_group.cpp": ("group", 0),
    "sinsp_filtercheck_fd.cpp": ("fd", 0),
    "sinsp_filtercheck_fspath.cpp": ("fs.path", 0),
    "sinsp_filtercheck_fdlist.cpp": ("fdlist", 0),
}
_ENTRY = re.compile(r"\{\s*(PT_\w+),\s*([^,{}]+?),\s*(PF_\w+),\s*\"([^\"]+)\"", re.S)


def libs_fields(tarball):
    """{class key: [(name, type, flags)]} from the libs field tables."""
    out = {}
    with tarfile.open(tarball) as tar:
        for member in tar.getmembers():
            base = os.path.basename(member.name)
            if base not in SOURCE_CLASSES or "/userspace/libsinsp/" not in member.name:
                continue
            text = tar.extractfile(member).read().decode("utf-8")
            for match in _ENTRY.finditer(text):
                ptype, flags, _fmt, name = match.groups()
                flag_set = set(re.findall(r"EPF_\w+", flags))
                out.setdefault(SOURCE_CLASSES[base], []).append((name, ptype[3:], flag_set))
    return out


def _classes(data):
    if isinstance(data, dict):
        for key in ("fieldclasses", "fields", "field_classes", "classes"):
            if key in data:
                return data[key]
        return list(data.values())
    return data


def _lit(value):
    """A Python literal as ruff format writes it (double quotes)."""
    if isinstance(value, str):
        return json.dumps(value)
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, tuple):
        inner = ", ".join(_lit(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    raise TypeError(value)


def _block(name, items, indent="    "):
    lines = [f"{name} = ("] + [f"{indent}{item}," for item in items] + [")"]
    return "\n".join(lines) + "\n"


def main():
    src, out = sys.argv[1], sys.argv[2]
    with open(os.path.join(src, "fields.json"), encoding="utf-8") as handle:
        fields = _classes(json.load(handle))
    events = []
    for name in ("events.json", "events-all.json"):
        path = os.path.join(src, name)
        if os.path.exists(path):
            with open(path, encoding="utf-8") as handle:
                events.append(json.load(handle))
    with open(os.path.join(src, "version.txt"), encoding="utf-8") as handle:
        version_text = handle.read()
    falco_version = re.search(r"Falco version:\s*(\S+)", version_text).group(1)
    engine_version = re.search(r"Engine:\s*(\S+)", version_text).group(1)
    libs_version = re.search(r"Libs version:\s*(\S+)", version_text)
    classes = []
    for klass in fields:
        entries = []
        for fld in klass.get("fields", []):
            arg = fld.get("argument")
            arg_t = None if not arg else (bool(arg.get("required")), tuple(arg.get("type", [])))
            entries.append((fld["name"], fld["type"], bool(fld.get("is_list")), arg_t))
        name = klass["name"]
        plugin = ""
        if name.endswith(" (plugin)"):  # how falco --list names a plugin's field class
            name = name[: -len(" (plugin)")]
            plugin = name
        classes.append((name, plugin, tuple(entries)))
    no_rhs, no_transformer = set(), set()
    if len(sys.argv) > 3 and os.path.exists(sys.argv[3]):
        listed = {f[0] for c in classes for f in c[2]}
        seen = {}
        for index, klass in enumerate(classes):
            seen.setdefault(klass[0], []).append(index)
        for (klass, nth), table in libs_fields(sys.argv[3]).items():
            positions = seen.get(klass, [])
            if nth >= len(positions):
                continue
            index = positions[nth]
            extra = []
            for name, ftype, flags in table:
                if "EPF_NO_RHS" in flags:
                    no_rhs.add(name)
                if "EPF_NO_TRANSFORMER" in flags:
                    no_transformer.add(name)
                if name in listed:
                    continue
                arg = None
                if "EPF_ARG_REQUIRED" in flags or "EPF_ARG_ALLOWED" in flags:
                    arg = ("EPF_ARG_REQUIRED" in flags, ())
                extra.append((name, ftype, "EPF_IS_LIST" in flags, arg))
                listed.add(name)
            cname, plugin, entries = classes[index]
            classes[index] = (cname, plugin, entries + tuple(extra))
    names = set()
    params = {}
    for listing in events:
        for category in listing.values():
            if not isinstance(category, list):
                continue
            for event in category:
                names.add(event["name"])
                for param in event.get("params", []):
                    params.setdefault(param["name"], param["type"])
    header = (
        "# Copyright (c) nodesec.kubernetes contributors\n"
        "# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)\n"
        "# SPDX-License-Identifier: GPL-3.0-or-later\n"
        "# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.\n"
        "# Do not use this from other collections or standalone plugins/modules!\n"
        f'"""GENERATED by scripts/falco-catalogue.sh (scripts/falco_differential/catalogue.py): do not edit.\n\n'
        f"The field and event catalogue of Falco {falco_version} (engine {engine_version}"
        f"{', libs ' + libs_version.group(1) if libs_version else ''}) with the container plugin loaded,\n"
        "as the binary lists them: falco --list --format json and falco --list-events --format json.\n"
        "FIELD_CLASSES keeps the binary's order (the order libsinsp asks the classes in): each entry is\n"
        "(class, plugin, ((name, type, is_list, argument), ...)) with argument None or\n"
        '(required, ("INDEX", "KEY")). Fields the binary resolves but does not list (deprecated and\n'
        "table-only ones) are added to their class from the libs sources the binary was built from.\n"
        '"""\n\n'
    )
    class_lines = []
    for cname, plugin, entries in classes:
        class_lines.append(
            "(\n        "
            + _lit(cname)
            + ",\n        "
            + _lit(plugin)
            + ",\n        (\n"
            + "".join(f"            {_lit(e)},\n" for e in entries)
            + "        ),\n    )"
        )
    body = (
        f"FALCO_VERSION = {_lit(falco_version)}\n"
        f"ENGINE_VERSION = {_lit(engine_version)}\n\n"
        + _block("FIELD_CLASSES", class_lines)
        + "\n"
        + _block("EVENT_NAMES", [_lit(n) for n in sorted(names)])
        + "\n"
        + "EVENT_PARAMS = {\n"
        + "".join(f"    {_lit(k)}: {_lit(v)},\n" for k, v in sorted(params.items()))
        + "}\n\n"
        + "# from the libs field tables (not printed by the binary): fields that cannot be a right-hand\n"
        + "# side (val(...)) or take a transformer\n"
        + _block("NO_RHS_FIELDS", [_lit(n) for n in sorted(no_rhs)])
        + _block("NO_TRANSFORMER_FIELDS", [_lit(n) for n in sorted(no_transformer)])
    )
    with open(out + ".new", "w", encoding="utf-8") as handle:
        handle.write(header + body)
    os.replace(out + ".new", out)
    count = sum(len(c[2]) for c in classes)
    print(f"{out}: {count} fields in {len(classes)} classes, {len(names)} event names, Falco {falco_version}")


if __name__ == "__main__":
    main()

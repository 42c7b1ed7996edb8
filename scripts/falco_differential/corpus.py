"""Seeded, reproducible corpus of Falco rule files for the differential test (checker vs falco -V).

Run with python3 (no shebang, like k8s_lab.py):
    python3 scripts/falco/corpus.py --seed 1 --count 3000 --out /tmp/corpus
Each file is standalone (required_engine_version 0.26.0, one list, macro and rule, then at most
one mutation of a chosen kind). The same seed and count always give byte-identical files.
"""

import argparse
import os
import random
import re

# Fields with their libsinsp types (from libs 0.25.4 userspace/libsinsp/sinsp_filtercheck_*.cpp);
# the catalogue exported from the real binary supersedes this table once it exists.
FIELDS = {
    "proc.name": "charbuf",
    "proc.exe": "charbuf",
    "proc.cmdline": "charbuf",
    "proc.pname": "charbuf",
    "proc.pid": "int64",
    "proc.args": "charbuf",
    "proc.aname": "charbuf",
    "proc.apid": "int64",
    "evt.type": "charbuf",
    "evt.rawtime": "abstime",
    "evt.num": "uint64",
    "evt.dir": "charbuf",
    "fd.name": "charbuf",
    "fd.num": "int64",
    "fd.sport": "port",
    "fd.cip": "ipaddr",
    "fd.net": "ipnet",
    "user.uid": "uint32",
    "user.name": "charbuf",
    "container.id": "charbuf",
    "container.name": "charbuf",
    "k8s.pod.name": "charbuf",
    "k8s.ns.name": "charbuf",
    "syscall.type": "charbuf",
    "evt.arg.flags": "charbuf",
    "proc.nosuch": None,
    "nosuch.field": None,
}
OPERATORS = [
    "=",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "contains",
    "icontains",
    "bcontains",
    "startswith",
    "bstartswith",
    "endswith",
    "glob",
    "iglob",
    "in",
    "intersects",
    "pmatch",
    "exists",
    "regex",
    "nosuchop",
]
TRANSFORMERS = ["tolower", "toupper", "b64", "basename", "len", "val", "join", "concat", "getopt", "nosuch"]
VALUES = [
    "bash",
    "1",
    "-1",
    "/bin/sh",
    "(bash, sh)",
    "(1, 2)",
    '"a b"',
    "'x'",
    "10.0.0.1",
    "10.0.0.0/8",
    "(shell_binaries)",
    "0x10",
    "",
    "(",
    "abc)",
]
EVT_TYPES = ["execve", "open", "openat", "connect", "nosuchevent"]


STRING_FIELDS = [f for f, t in FIELDS.items() if t == "charbuf"]
NUMBER_FIELDS = [f for f, t in FIELDS.items() if t in ("int64", "uint64", "uint32")]
STRING_OPS = ["=", "!=", "contains", "icontains", "startswith", "endswith", "glob", "in"]
NUMBER_OPS = ["=", "!=", "<", "<=", ">", ">="]


def _valid_predicate(rnd):
    """A predicate Falco accepts (string or number field with a fitting operator and value)."""
    if rnd.random() < 0.5:
        fld, op = rnd.choice(STRING_FIELDS), rnd.choice(STRING_OPS)
        value = (
            rnd.choice(["(bash, sh)", "(shell_binaries)"]) if op == "in" else rnd.choice(["bash", "/bin/sh", '"a b"'])
        )
    else:
        fld, op = rnd.choice(NUMBER_FIELDS), rnd.choice(NUMBER_OPS)
        value = rnd.choice(["0", "1", "1000"])
    return f"{fld} {op} {value}"


def _mutated_predicate(rnd):
    """A predicate with one random change: any field, operator, transformer, modifier or value."""
    fld = rnd.choice(list(FIELDS))
    r = rnd.random()
    if r < 0.2:
        fld = f"{rnd.choice(TRANSFORMERS)}({fld})"
    elif r < 0.25:
        fld = f'join(",", {fld})'
    elif r < 0.3:
        fld = f"concat({fld}, {rnd.choice(list(FIELDS))})"
    op = rnd.choice(OPERATORS)
    if op == "exists":
        return f"{fld} exists"
    if rnd.random() < 0.15:
        op = "{} {}".format(op, rnd.choice(["oneof", "anyof", "allof"]))
    if rnd.random() < 0.1:
        return f"{fld} {op} val({rnd.choice(list(FIELDS))})"
    return f"{fld} {op} {rnd.choice(VALUES)}"


def condition(rnd, mutate=False, depth=0):
    r = rnd.random()
    if depth > 1 or r < 0.5:
        return _mutated_predicate(rnd) if mutate else _valid_predicate(rnd)
    if r < 0.65:
        return f"not {condition(rnd, mutate, depth + 1)}"
    if r < 0.8:
        return f"({condition(rnd, mutate, depth + 1)})"
    return "{} {} {}".format(
        condition(rnd, mutate, depth + 1), rnd.choice(["and", "or"]), condition(rnd, False, depth + 1)
    )


def _quoted(text):
    return "'" + text.replace("'", "''") + "'"


MUTATIONS = [
    "none",
    "condition",
    "condition",
    "condition",
    "condition",
    "syntax",
    "macro",
    "output",
    "priority",
    "key",
    "exception",
    "override",
    "list",
    "source",
    "append",
]


def rule_file(rnd):
    """One standalone rule file, valid except for at most one mutation of a chosen kind."""
    kind = rnd.choice(MUTATIONS)
    macro = condition(rnd, mutate=kind == "macro")
    cond = condition(rnd, mutate=kind == "condition")
    if kind == "syntax":
        cond = rnd.choice(
            [
                "(%s",
                "%s)",
                "%s and",
                "%s or or proc.pid > 0",
                "not",
                "%s xor proc.pid = 1",
                "%s and evt.type in ()",
                "%s and evt.type = nosuchevent",
            ]
        )
        cond = cond % _valid_predicate(rnd) if "%s" in cond else cond
    output = "%proc.name %container.id"
    if kind == "output":
        output = rnd.choice(
            [
                "%proc.nosuch",
                "%(proc.name",
                "%evt.rawtime %fd.name",
                "%tolower(proc.name)",
                "%proc.aname[2]",
                "%evt.arg.flags",
                "plain",
            ]
        )
    priority = rnd.choice(["WARNING", "NOTICE", "CRITICAL", "info", "Debug"])
    if kind == "priority":
        priority = rnd.choice(["bogus", "WARN", "5", ""])
    lines = [
        "- required_engine_version: 0.26.0",
        "",
        "- list: shell_binaries",
        "  items: [bash, sh, zsh]",
        "",
        "- macro: m_macro",
        f"  condition: {_quoted(macro)}",
        "",
        "- rule: r1",
        "  desc: generated",
        "  condition: {}".format(_quoted("evt.type = execve and m_macro and " + cond)),
        f"  output: {_quoted(output)}",
        f"  priority: {priority}",
    ]
    if kind == "key":
        lines.append(
            rnd.choice(
                [
                    "  nosuchkey: 1",
                    "  enabled: maybe",
                    "  tags: notalist",
                    "  capture: true",
                    "  warn_evttypes: false",
                    "  skip-if-unknown-filter: true",
                ]
            )
        )
    if kind == "source":
        lines.append("  source: {}".format(rnd.choice(["syscall", "k8s_audit", "nosuch", "aws_cloudtrail"])))
    if kind == "exception":
        fields = rnd.sample(list(FIELDS), rnd.choice([1, 2]))
        if rnd.random() < 0.2:
            fields[0] = f"{rnd.choice(TRANSFORMERS)}({fields[0]})"
        lines += ["  exceptions:", "    - name: e1", "      fields: [{}]".format(", ".join(fields))]
        if rnd.random() < 0.6:
            lines.append(
                "      comps: [{}]".format(
                    ", ".join(
                        rnd.choice(["=", "in", "startswith", "nosuch", "pmatch", "!=", "contains"]) for _f in fields
                    )
                )
            )
        if rnd.random() < 0.8:
            lines += [
                "      values:",
                "        - [{}]".format(
                    ", ".join(rnd.choice(["bash", "[a, b]", "1", "shell_binaries"]) for _f in fields)
                ),
            ]
    lines.append("")
    if kind == "override":
        key, op = rnd.choice(
            [
                ("condition", "append"),
                ("condition", "replace"),
                ("condition", "bogus"),
                ("output", "replace"),
                ("output", "append"),
                ("priority", "replace"),
                ("capture", "replace"),
                ("capture", "append"),
                ("enabled", "replace"),
                ("tags", "append"),
                ("desc", "append"),
                ("exceptions", "append"),
            ]
        )
        value = {
            "condition": "and proc.pid > 0",
            "output": "x %proc.name",
            "priority": "ERROR",
            "capture": "true",
            "enabled": "false",
            "tags": "[t]",
            "desc": "d",
            "exceptions": "[{name: e2, fields: [proc.name], values: [[bash]]}]",
        }[key]
        lines += [
            "- rule: {}".format(rnd.choice(["r1", "r1", "r9"])),
            f"  {key}: {value}",
            "  override:",
            f"    {key}: {op}",
            "",
        ]
    if kind == "list":
        lines += [
            "- list: {}".format(rnd.choice(["shell_binaries", "other"])),
            "  items: {}".format(rnd.choice(["[ash]", "[]", "ash", "[1, 2]"])),
            "  override:",
            "    items: {}".format(rnd.choice(["append", "replace", "bogus"])),
            "",
        ]
    if kind == "append":
        lines += [
            "- {}: {}".format(*rnd.choice([("rule", "r1"), ("rule", "r2"), ("macro", "m_macro"), ("macro", "m2")])),
            "  append: true",
            "  condition: and proc.pid > 0",
            "",
        ]
    return "\n".join(lines)


def _unique(text, index):
    """Suffix every name with the file index, so files loaded one after another in one Falco run
    (falco -V a -V b loads them cumulatively into one engine) do not see each other's names."""
    for name in ("shell_binaries", "m_macro", "m2", "r1", "r2", "r9", "other", "e1", "e2"):
        text = re.sub(rf"\b{name}\b", f"{name}_{index:05d}", text)
    return text


def generate(seed=1, count=3000):
    """Return [(name, text)], identical for the same seed and count."""
    rnd = random.Random(seed)
    return [(f"c{i:05d}.yaml", _unique(rule_file(rnd), i)) for i in range(count)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for name, text in generate(args.seed, args.count):
        with open(os.path.join(args.out, name), "w", encoding="utf-8") as handle:
            handle.write(text)


if __name__ == "__main__":
    main()

"""Seeded, reproducible corpus of Falco rule files for the differential test (checker vs falco -V).

Run with python3 (no shebang, like k8s_lab.py):
    python3 scripts/falco_differential/corpus.py --seed 1 --count 3000 --out /tmp/corpus
Each file is standalone (required_engine_version 0.26.0, one list, macro and rule, then at most
one mutation of a chosen kind). The same seed and count always give byte-identical files.
"""

import argparse
import os
import random
import re

# Field names the mutations draw from (the catalogue exported from the real binary gives their
# types; the checker uses it, the corpus only needs names, real and unreal ones).
FIELDS = [
    "proc.name",
    "proc.exe",
    "proc.cmdline",
    "proc.pname",
    "proc.pid",
    "proc.args",
    "proc.aname",
    "proc.aname[2]",
    "proc.aname[x]",
    "proc.apid[1]",
    "proc.env[HOME]",
    "proc.tty",
    "proc.is_exe_writable",
    "proc.cmdnargs",
    "proc.duration",
    "evt.type",
    "evt.rawtime",
    "evt.num",
    "evt.dir",
    "evt.res",
    "evt.rawres",
    "evt.buffer",
    "evt.arg.flags",
    "evt.arg[0]",
    "evt.rawarg.res",
    "evt.arg.nosuchparam",
    "fd.name",
    "fd.num",
    "fd.sport",
    "fd.cip",
    "fd.net",
    "fd.typechar",
    "fd.directory",
    "fd.types",
    "fs.path.name",
    "user.uid",
    "user.name",
    "user.loginuid",
    "group.gid",
    "container.id",
    "container.name",
    "container.image.repository",
    "container.label[app]",
    "k8s.pod.name",
    "k8s.ns.name",
    "k8s.pod.label[app]",
    "syscall.type",
    "proc.nosuch",
    "nosuch.field",
    "proc.namex",
]
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
    "::1",
    "fe80::/10",
    "(shell_binaries)",
    "shell_binaries",
    "0x10",
    "0777",
    "true",
    "http",
    "80",
    "7f454c46",
    "<NA>",
    "proc.pname",
    "'tolower(x)'",
    "'ba.*h'",
    "'^bash$'",
    '"a\\tb"',
    "",
    "(",
    "abc)",
    "()",
]
EVT_TYPES = ["execve", "open", "openat", "connect", "nosuchevent"]


STRING_FIELDS = ["proc.name", "proc.exe", "proc.cmdline", "proc.pname", "user.name", "container.name"]
NUMBER_FIELDS = ["proc.pid", "evt.num", "user.uid", "fd.num"]
# evt.type under a transformer or against a field makes Falco's event-code search throw outside
# its error handling (the whole run dies), so the mutations keep evt.type/syscall.type plain
PLAIN_ONLY = ("evt.type", "syscall.type")
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


def _operand(rnd, fld):
    """The field, or the field under a transformer (never evt.type: see PLAIN_ONLY)."""
    if fld in PLAIN_ONLY:
        return fld
    r = rnd.random()
    other = rnd.choice([f for f in FIELDS if f not in PLAIN_ONLY])
    if r < 0.15:
        return f"{rnd.choice(TRANSFORMERS)}({fld})"
    if r < 0.2:
        return f"{rnd.choice(['tolower', 'toupper', 'basename', 'len'])}({rnd.choice(['tolower', 'b64'])}({fld}))"
    if r < 0.24:
        return rnd.choice([f'join(",", {fld})', f"join({other}, {fld})", f"join(',', ({fld}, {other}))"])
    if r < 0.28:
        return rnd.choice([f"concat({fld}, {other})", f"concat({fld}, '-', {other})", f"concat({fld})"])
    if r < 0.31:
        return rnd.choice([f"getopt({fld}, 'abc:')", f"getopt({fld}, 'c:')[c]", f"getopt({fld}, 'c:')[cd]"])
    return fld


def _mutated_predicate(rnd):
    """A predicate with one random change: any field, operator, transformer, modifier or value."""
    fld = rnd.choice(FIELDS)
    lhs = _operand(rnd, fld)
    op = rnd.choice(OPERATORS)
    if op == "exists":
        return f"{lhs} exists"
    if rnd.random() < 0.15:
        op = "{} {}".format(op, rnd.choice(["oneof", "anyof", "allof"]))
    if rnd.random() < 0.1 and fld not in PLAIN_ONLY:
        rhs = rnd.choice([f for f in FIELDS if f not in PLAIN_ONLY])
        return f"{lhs} {op} {rnd.choice(['val', 'tolower', 'len'])}({rhs})"
    return f"{lhs} {op} {rnd.choice(VALUES)}"


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
    "listref",
    "listref",
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
    if kind == "listref":
        cond = rnd.choice(
            [
                "proc.name in (shell_binaries)",
                "proc.name in shell_binaries",
                "proc.name = shell_binaries",
                "proc.name in (shell_binaries, other)",
                "proc.name in (other)",
                "proc.name pmatch (shell_binaries)",
                "proc.name startswith oneof shell_binaries",
                "proc.name startswith oneof (shell_binaries)",
                "proc.name contains allof (shell_binaries)",
                "proc.pid in (shell_binaries)",
                "proc.name intersects (shell_binaries)",
                "fd.types intersects (shell_binaries)",
                "shell_binaries",
                "proc.name in (shell_binaries, zsh)",
            ]
        )
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
                "%proc.namex",
                "%proc.aname[x]",
                "%(proc.name)",
                "%concat(proc.name, proc.exe)",
                "%container.info",
                "%evt.dir",
                "50% done",
                "%5proc.name",
                "*%proc.name",
            ]
        )
    priority = rnd.choice(["WARNING", "NOTICE", "CRITICAL", "info", "Debug"])
    if kind == "priority":
        priority = rnd.choice(["bogus", "WARN", "5", "", "informational", "EMERGENCY", "'Info'", "[INFO]"])
    lines = [
        f"# mutation: {kind}",
        "- required_engine_version: 0.26.0",
        "",
        "- list: shell_binaries",
        "  items: [bash, sh, zsh]",
        "",
    ]
    if kind == "listref" and rnd.random() < 0.5:
        lines += [
            "- list: other",
            "  items: {}".format(rnd.choice(["[ksh]", "[shell_binaries, ksh]", "[]", "['a b']"])),
            "",
        ]
    lines += [
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
        pool = [f for f in FIELDS if f not in PLAIN_ONLY]
        fields = rnd.sample(pool, rnd.choice([1, 2]))
        if rnd.random() < 0.2:
            fields[0] = f"{rnd.choice(['tolower', 'toupper', 'basename', 'len', 'nosuch'])}({fields[0]})"
        comps_pool = [
            "=",
            "in",
            "startswith",
            "nosuch",
            "pmatch",
            "!=",
            "contains",
            "startswith oneof",
            " = ",
            "endswith anyof",
            "in oneof",
            ">",
        ]
        if rnd.random() < 0.3:
            # the single-field form: fields and comps are strings, values a list of strings
            lines += ["  exceptions:", "    - name: e1", f"      fields: {fields[0]}"]
            if rnd.random() < 0.6:
                lines.append(
                    "      comps: {}".format(rnd.choice(["in", "pmatch", "intersects", "=", "startswith oneof"]))
                )
            lines.append("      values: [{}]".format(rnd.choice(["bash", "bash, sh", "[a, b]", "shell_binaries", "1"])))
        else:
            lines += ["  exceptions:", "    - name: e1", "      fields: [{}]".format(", ".join(fields))]
            if rnd.random() < 0.6:
                lines.append("      comps: [{}]".format(", ".join(repr(rnd.choice(comps_pool)) for _f in fields)))
            if rnd.random() < 0.8:
                lines += [
                    "      values:",
                    "        - [{}]".format(
                        ", ".join(rnd.choice(["bash", "[a, b]", "1", "shell_binaries", "'a b'", "[]"]) for _f in fields)
                    ),
                ]
        if rnd.random() < 0.1:
            lines += ["    - name: e1", "      fields: [proc.name]", "      values: [[sh]]"]
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
                ("capture_duration", "replace"),
                ("warn_evttypes", "replace"),
                ("skip-if-unknown-filter", "replace"),
                ("source", "replace"),
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
            "capture_duration": "5000",
            "warn_evttypes": "false",
            "skip-if-unknown-filter": "true",
            "source": "syscall",
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
            "  items: {}".format(rnd.choice(["[ash]", "[]", "ash", "[1, 2]", "[shell_binaries, ksh]", "['a b']"])),
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

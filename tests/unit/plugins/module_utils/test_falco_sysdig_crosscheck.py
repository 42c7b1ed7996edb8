"""Cross-check of our Falco condition parser against a real filter compiler: Debian's sysdig.

``sysdig -r <capture> '<condition>'`` compiles the condition with the libsinsp filter engine
(the engine family Falco uses) and reports syntax errors and unknown fields. For the upstream
rule set (every rule and every macro, with macros and lists expanded as Falco expands them),
our example rules, and a corpus of valid and broken conditions, our verdict (accept/reject)
must equal sysdig's.

Debian's sysdig (0.29.x in bookworm) predates a few things Falco's current engine has. Those
known divergences are listed below with the reason, and each is asserted to still diverge, so
the list cannot rot silently:

* fields newer than that sysdig (``fd.nameraw`` ...) are replaced, for sysdig only, by an older
  field of the same type, after asserting that sysdig rejects the newer one as unknown;
* double-quoted strings holding single quotes (upstream list items such as
  ``"sh -c node -e \\"require('nan')\\""``) are replaced, for sysdig only, by a plain string;
* grammar newer than that sysdig (``iglob``, ``bcontains``, ``regex``, transformers, hex
  numbers, single quotes inside double quotes, ``and``/``or`` mixed without parentheses) and leniencies
  of its older parser (empty value, ``,,`` in a list, no blank after a word operator), where we
  follow the current grammar.

Skips with a clear reason when sysdig (``apt-get install -y sysdig``) or the shared test data
are missing.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from ansible_collections.nodesec.kubernetes.plugins.module_utils import falco_rules as fr

REPO = Path(__file__).resolve().parents[4]
TESTDATA = REPO.parent / "shared" / "testdata"
UPSTREAM = TESTDATA / "falco" / "falco_rules.yaml"
CAPTURE = TESTDATA / "scap" / "curl_google.scap"
EXAMPLE_VARS = REPO / "playbooks" / "vars" / "falco_example.yml"
SYSDIG = shutil.which("sysdig")

pytestmark = [
    pytest.mark.skipif(SYSDIG is None, reason="sysdig is not installed (apt-get install -y sysdig)"),
    pytest.mark.skipif(
        not (UPSTREAM.is_file() and CAPTURE.is_file()), reason=f"shared test data missing under {TESTDATA}"
    ),
]

# Fields of the current engine that Debian's sysdig 0.29 does not know, and a field of the same
# type it knows: used only in what we hand to sysdig.
NEWER_FIELDS = {
    "fd.nameraw": "fd.name",
    "proc.pexe": "proc.exe",
    "thread.cap_effective": "proc.name",
    "proc.is_exe_upper_layer": "evt.is_open_read",
    "proc.is_exe_from_memfd": "evt.is_open_read",
}

# (condition, our verdict, reason sysdig 0.29 differs)
KNOWN_DIVERGENCES = [
    ("fd.name iglob '*.PEM'", True, "iglob is newer than sysdig 0.29"),
    ("fd.name bcontains 2f6574632f", True, "bcontains is newer than sysdig 0.29"),
    ("evt.buffer bstartswith 7f454c46", True, "bstartswith is newer than sysdig 0.29"),
    ("proc.name regex 'ba.*h'", True, "regex is newer than sysdig 0.29"),
    ("tolower(proc.name) = bash", True, "field transformers are newer than sysdig 0.29"),
    ("evt.rawres < 0x10", True, "hex numbers are newer than sysdig 0.29"),
    ("proc.name in ('\"(systemd)\"', bash)", True, "a double-quoted string inside single quotes"),
    ("proc.name == ", False, "sysdig 0.29 accepts an empty value; the current grammar needs one"),
    ("proc.name in (bash,, zsh)", False, "sysdig 0.29 skips an empty list value"),
    ("proc.name containsbash", False, "sysdig 0.29 needs no blank after a word operator"),
    ("proc.nme = bash", True, "we check field classes, not every field name of a class"),
    ("proc.name = sh or proc.name = bash and fd.num > 0", True, "sysdig 0.29 refuses and/or mixed without parentheses"),
    ("proc.cmdline in (\"sh -c 'date +%s'\")", True, "sysdig 0.29 cannot read single quotes in double quotes"),
]

AGREEING_CORPUS = [
    "k8s.pod.name=nginx",
    "evt.dir = < and fd.num>=0",
    "proc.aname[2]=qualys-cloud-ag or proc.aname[3] startswith google_accounts",
    "evt.arg.flags contains O_CREAT and fd.name glob '/home/*/.ssh/*'",
    'proc.name in (runc:[0:PARENT], runc:[1:CHILD], "a b") and proc.name in ()',
    "not proc.pname exists or (proc.name = bash and not(proc.name = sh))",
    "proc.cmdline pmatch (/usr/bin, /etc) and proc.duration <= 5000000000 and evt.num > -1",
    "evt.res startswith E and proc.name endswith sh\n and fd.typechar='f' and fd.name icontains \"id_rsa\"",
    # broken: both reject
    "proc.name = bash and",
    "(proc.name = bash",
    "proc.name = bash)",
    "proc.name bash",
    "proc.name contain bash",
    "proc.name in bash, zsh",
    "proc.name in (bash, zsh",
    "proc.duration > five",
    "fd.name = 'unterminated",
    "proc.aname[2 = bash",
    "name = bash",
    "proc.name = bash or or proc.name = sh",
    "proc.name = bash && proc.pid = 1",
    "prc.name = bash",
    "undefined_macro_name",
]


DOUBLE_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')


def _plain_quotes(match: re.Match) -> str:
    text = match.group(0)
    return '"nested quotes"' if "'" in text[1:-1] else text


def sysdig_accepts(condition: str, adapt: bool = True) -> tuple[bool, str]:
    """sysdig's verdict. With ``adapt``, newer fields and double-quoted strings holding
    single quotes (which sysdig 0.29 cannot read) are replaced first."""
    if adapt:
        for newer, older in NEWER_FIELDS.items():
            condition = re.sub(r"(?<![\w.])" + re.escape(newer) + r"(?![\w.])", older, condition)
        condition = DOUBLE_QUOTED.sub(_plain_quotes, condition)
    proc = subprocess.run(
        [SYSDIG, "-r", str(CAPTURE), condition], capture_output=True, text=True, timeout=120, check=False
    )
    return proc.returncode == 0, proc.stderr.strip()


def our_verdict(condition: str, rule_set: fr.RuleSet | None = None) -> bool:
    """Accept when the condition parses, every field has a known class and, with no rule set
    loaded, it references no macro (sysdig sees a bare identifier as an unknown field)."""
    try:
        info = fr.parse_condition(condition)
    except fr.ConditionSyntaxError:
        return False
    if any(fr.field_class(name) not in fr.SYSCALL_FIELD_CLASSES for name, _pos in info.fields):
        return False
    macros = rule_set.macros if rule_set is not None else {}
    return all(name in macros for name, _pos in info.macros)


def upstream_rule_set() -> fr.RuleSet:
    return fr.read_rule_set([("falco_rules.yaml", UPSTREAM.read_text())])


def expanded(rule_set: fr.RuleSet, fragments) -> str:
    return rule_set.expand(" ".join(f.text for f in fragments))


@pytest.mark.parametrize("field", sorted(NEWER_FIELDS))
def test_newer_fields_are_unknown_to_this_sysdig(field):
    proc = subprocess.run(
        [SYSDIG, "-r", str(CAPTURE), f"{field} exists"], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode != 0 and "unrecognized field" in proc.stderr, proc.stderr


def test_every_upstream_rule_and_macro_agrees_with_sysdig():
    rule_set = upstream_rule_set()
    items = [("rule", n, r.condition) for n, r in rule_set.rules.items()]
    items += [("macro", n, m.fragments) for n, m in rule_set.macros.items()]
    assert len(items) == 25 + 87
    disagreements = []
    for kind, name, fragments in items:
        condition = expanded(rule_set, fragments)
        ours = our_verdict(condition)
        theirs, err = sysdig_accepts(condition)
        if ours != theirs:
            disagreements.append(f"{kind} {name!r}: ours={ours} sysdig={theirs} {err}")
    assert disagreements == []


def test_example_rules_agree_with_sysdig():
    data = yaml.safe_load(EXAMPLE_VARS.read_text())
    local = yaml.safe_dump(data["falco_rules"], sort_keys=False)
    rule_set = fr.read_rule_set([("falco_rules.yaml", UPSTREAM.read_text()), ("falco_rules.local.yaml", local)])
    names = [item["rule"] for item in data["falco_rules"] if "rule" in item]
    assert "shell_in_container" in names
    for name in names:
        rule = rule_set.rules[name]
        condition = expanded(rule_set, rule.condition)
        theirs, err = sysdig_accepts(condition)
        assert our_verdict(condition) is True
        assert theirs is True, f"{name}: {err}"


@pytest.mark.parametrize("condition", AGREEING_CORPUS)
def test_corpus_agrees_with_sysdig(condition):
    theirs, err = sysdig_accepts(condition)
    assert our_verdict(condition) == theirs, err


@pytest.mark.parametrize(("condition", "ours", "reason"), KNOWN_DIVERGENCES, ids=[d[2] for d in KNOWN_DIVERGENCES])
def test_known_divergences_still_diverge(condition, ours, reason):
    theirs, err = sysdig_accepts(condition, adapt=False)
    assert our_verdict(condition) is ours
    assert theirs is (not ours), f"sysdig now agrees ({reason}): remove it from KNOWN_DIVERGENCES; {err}"

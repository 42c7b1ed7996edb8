"""Deeply nested rule files: the cases of the nesting test against the real `falco -V`.

Measured with Falco 0.44.1 (libsinsp 0.25.4): every kind below loads at every depth up to 5000
(libsinsp's parser declares a max depth of 100 but its guard is an unnamed temporary, destroyed
at once, so it never limits); `falco -V` dies with SIGSEGV (stack overflow) at 20000 nested
parentheses. Used by tests/integration/test_falco_differential.py (the real engine, the oracle)
and tests/unit/plugins/module_utils/test_falco_nesting.py (our checker alone).
"""

BASE = "evt.type = execve"
DEPTHS = (50, 100, 200, 250, 500, 999, 1000, 1001, 2000, 5000)
BROKEN_DEPTHS = (50, 250, 1001, 2000)
# our output reader tries every shorter prefix of a token that does not parse: quadratic, 58 s
# at 1001 levels and 204 s at 2000, so the broken output case stops at 250 (see the report)
BROKEN_OUTPUT_MAX_DEPTH = 250


def rule(condition, output="nested %proc.name", name="deep_rule"):
    return f"- rule: {name}\n  desc: nesting test\n  condition: {condition}\n  output: {output}\n  priority: INFO\n"


def macro_chain(depth, bottom=BASE):
    head = f"- macro: m0\n  condition: {bottom}\n"
    return head + "".join(f"- macro: m{i}\n  condition: m{i - 1}\n" for i in range(1, depth))


def list_chain(depth):
    head = "- list: l0\n  items: [bash]\n"
    return head + "".join(f"- list: l{i}\n  items: [l{i - 1}]\n" for i in range(1, depth))


def kinds(depth, bottom=BASE, field="proc.name"):
    """(kind, rules file text) of one depth: each nests `depth` levels of one construct."""
    n = depth
    yield "parentheses", rule("(" * n + bottom + ")" * n)
    yield "not-parentheses", rule("not (" * n + bottom + ")" * n)
    yield "not-blank", rule("not " * n + bottom)
    yield "and-parentheses", rule("(" * n + bottom + " and proc.name = a)" * n)
    yield "and-not-chain", rule("evt.type = execve and not (" * n + bottom + ")" * n)
    yield "tolower-left", rule("tolower(" * n + field + ")" * n + " = bash")
    yield "tolower-right", rule("proc.name = " + "tolower(" * n + field + ")" * n)
    yield "tolower-output", rule(BASE, "nested %" + "tolower(" * n + field + ")" * n)
    yield "macro-chain", macro_chain(n, bottom) + rule(f"m{n - 1}")
    yield "list-chain", list_chain(n) + rule(f"proc.name in (l{n - 1})")


def broken(depth):
    """(kind, text) rejected by Falco at any depth: the error lies at the bottom of the nest."""
    n = depth
    yield "parentheses-unclosed", rule("(" * n + BASE + ")" * (n - 1))
    yield "parentheses-unknown-field", rule("(" * n + "proc.nosuchfield = bash" + ")" * n)
    yield "tolower-unknown-field", rule("tolower(" * n + "proc.nosuchfield" + ")" * n + " = bash")
    yield "macro-chain-undefined", macro_chain(n, "nosuchmacro") + rule(f"m{n - 1}")
    if n <= BROKEN_OUTPUT_MAX_DEPTH:
        yield "output-unknown-field", rule(BASE, "nested %" + "tolower(" * n + "proc.nosuchfield" + ")" * n)

"""One line per check: what was looked at, what was found, and the fix when something is wrong.

Three levels: ``ok``; ``warning`` (works, but slower or riskier than it should be, or something
optional is missing); ``problem`` (the car will not drive, or not safely, until it is fixed).
The command exits 0 when there is no problem (warnings included) and 3 when there is one, the
code every jetracer command uses for a fault, so a bring-up script can stop on it.
"""

import collections
import json

__all__ = ["OK", "WARNING", "PROBLEM", "Check", "ok", "warning", "problem", "exit_code", "format_check",
           "format_report", "report_json"]

OK, WARNING, PROBLEM = "ok", "warning", "problem"
_RANK = {OK: 0, WARNING: 1, PROBLEM: 2}

#: ``name`` says what was checked (``python``, ``i2c-1 0x40``), ``detail`` what was found, ``fix``
#: what to do about it (empty when ok).
Check = collections.namedtuple("Check", "name status detail fix")


def ok(name, detail):
    return Check(name, OK, detail, "")


def warning(name, detail, fix=""):
    return Check(name, WARNING, detail, fix)


def problem(name, detail, fix=""):
    return Check(name, PROBLEM, detail, fix)


def worst(checks):
    return max((c.status for c in checks), key=_RANK.get, default=OK)


def exit_code(checks):
    """0 when nothing is a problem (warnings are fine), 3 when something is."""
    return 3 if worst(checks) == PROBLEM else 0


def format_check(check, name_width=14):
    line = "%-8s %-*s %s" % (check.status, name_width, check.name, check.detail)
    if check.fix:
        line += " -> " + check.fix
    return line


def format_report(checks):
    width = min(max([len(c.name) for c in checks] + [8]), 18)
    lines = [format_check(c, width) for c in checks]
    counts = collections.Counter(c.status for c in checks)
    lines.append("%d ok, %d warning%s, %d problem%s" % (
        counts[OK], counts[WARNING], "" if counts[WARNING] == 1 else "s", counts[PROBLEM],
        "" if counts[PROBLEM] == 1 else "s"))
    return "\n".join(lines)


def report_json(checks):
    counts = collections.Counter(c.status for c in checks)
    return json.dumps({"checks": [c._asdict() for c in checks],
                       "summary": {OK: counts[OK], WARNING: counts[WARNING], PROBLEM: counts[PROBLEM]},
                       "exit_code": exit_code(checks)}, indent=2)

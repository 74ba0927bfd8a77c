"""Helpers shared by the end-to-end CLI tests (test_extract_cli.py, test_bulk_cli.py, ...):
checks that collect failures instead of stopping at the first, and running the polyp binary.
"""
import subprocess
import sys

FAILURES = []
_POLYP = []


def init(polyp):
    """The polyp binary every run() uses."""
    _POLYP[:] = [polyp]


def check(cond, msg):
    if not cond:
        FAILURES.append(msg)
        print("FAIL:", msg, file=sys.stderr)
    return cond


def run(args, **kw):
    return subprocess.run(_POLYP + args, capture_output=True, text=True, **kw)


def make_testnet(path):
    """Writes the seeded test network to path (polyp testnet); False, with the failure
    recorded, when that fails."""
    r = run(["testnet", "--out", path])
    return check(r.returncode == 0, "polyp testnet failed: %s" % r.stderr)


def one_line_error(args, needle, label):
    """args must fail with exactly one line on stderr that contains needle."""
    r = run(args)
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    check(r.returncode != 0, "%s: exit status 0" % label)
    check(len(lines) == 1, "%s: %d lines on stderr: %r" % (label, len(lines), r.stderr))
    check(needle in r.stderr, "%s: %r not in %r" % (label, needle, r.stderr))


def finish(what):
    """The exit status: 1 with the failure count, or 0 saying that every `what` check passed."""
    if FAILURES:
        print("%d check(s) failed" % len(FAILURES), file=sys.stderr)
        return 1
    print("all %s checks passed" % what)
    return 0

"""What the SMTP integration tests (test_smtp*.py) share on top of labtest.

Importing it keeps every lab these tests start off 127.200 .. 127.219, which
labtest.fresh_prefix() would otherwise hand out but other test suites use.
"""
import labtest

RESERVED = range(200, 220)  # second octets used elsewhere


def _fresh_prefix(_fresh=labtest.fresh_prefix):
    while True:
        prefix = _fresh()
        if int(prefix.split(".")[1]) not in RESERVED:
            return prefix


if not getattr(labtest.fresh_prefix, "skips_reserved", False):
    _fresh_prefix.skips_reserved = True
    labtest.fresh_prefix = _fresh_prefix

"""The seat-change rules of docs/billing-rules.md, split by topic.

Pure tests: no database, no Django. Every expected number is worked out by hand
from the rules text (the arithmetic is in a comment next to it), never by calling
the code under test. Rounding is ROUND_HALF_UP (ties away from zero), once per
line: credit, charge, tax.
"""

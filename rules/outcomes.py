"""What rule actions return, and the exact arithmetic they use.

An action returns a list of outcome dicts; the evaluator turns each into a stored adjustment or
exception with its subject, sources and assignee (evaluator/evaluate.py). Three shapes:

    points(value, BLEND(…))  -> {"points": "8.11", "explanation": …, "says": […]}   an adjustment
    flag("BEH_NO_EVIDENCE")  -> {"exception": "BEH_NO_EVIDENCE"}                   a rejection/review
    note(ACCEPTED)           -> {"note": "accepted"}                               a classification

An explanation is said by one of the book's sentence templates (rules/wording.py): the outcome
keeps its English text and, under "says", the template's key and arguments, from which a report
renders it in its own language.

Facts carry exact values as text ("70", "0.25"): the engine compares doubles, which is fine for
classification against a threshold, but every point that reaches a statement is computed here,
with fractions.Fraction, and rounded half-up to the cent once, when emitted (SPEC §5.7).
"""
from __future__ import annotations

import math
from decimal import Context, Decimal
from fractions import Fraction

from rules.wording import Said

# SPEC §5.7: achievement ratios and the outlier distance meet their thresholds at this tolerance
# (0.7/0.875 is 0.8). The engine compares them as doubles: the rule books subtract it from the
# threshold in the fact.
TOLERANCE_FLOAT = 1e-9


# Sums of ledger decimals (the blends' score and metric sums) are exact at this precision:
# Decimal addition rounds only past it.
_SUMS = Context(prec=60)


def add_exact(total: Decimal, value) -> Decimal:
    """total + value, exactly (the value as Decimal(str(value))). Start a sum at Decimal(0)."""
    return _SUMS.add(total, Decimal(str(value)))


def exact(text) -> Fraction:
    """A fact's exact text ("70", "0.2027", "-3", "3/8") as a Fraction."""
    return Fraction(str(text))


def round_half_up(value: Fraction) -> Decimal:
    """Half-up (四舍五入) on the magnitude, to the cent: -1.255 → -1.26."""
    cents = math.floor(abs(value) * 100 + Fraction(1, 2))
    return Decimal(-cents if value < 0 else cents).scaleb(-2)


def points(value: Fraction, explanation: Said) -> dict:
    return {"points": str(round_half_up(value)), "explanation": explanation.text,
            "says": explanation.says}


def flag(kind: str) -> dict:
    return {"exception": kind}


def note(text: str) -> dict:
    return {"note": text}


def fmt(value: Fraction, places: int = 4) -> str:
    """A readable number for explanations (not used for any result)."""
    q = Decimal(value.numerator) / Decimal(value.denominator)
    return f"{q:.{places}f}".rstrip("0").rstrip(".") if "." in f"{q:.{places}f}" else f"{q:.{places}f}"

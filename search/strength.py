"""How much evidence a suggested person has, as people read it: a calibrated 0-1 strength and a
band (strong / some / little evidence), instead of the ranking's log score.

The strength is a logistic function of the person's receipts: the relevance of their best
receipt's own passage and how many relevant receipts they have. It was fitted on the time-split
Stack Exchange dumps (``python benchmarks/experts_loso.py``): for each question, the people the
gated model suggests, labelled by whether they went on to answer it. So a strength of 0.4 reads
"about 4 in 10 people with this much evidence answered such a question". Each held-out site's
calibration is in docs/ranking-and-evaluation.md. The ranking itself still orders people; the strength only
describes them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

# intercept, best receipt relevance, log(1 + relevant receipts): fitted on all four dumps
# (benchmarks/experts_loso.py, "on all dumps"); the leave-one-site-out fits are in docs/ranking-and-evaluation.md
COEFFICIENTS = (-3.594, 0.587, 0.714)
# strength at least this: the band; below all: little. On the dumps about 1 in 10 suggested
# people answered well: "strong" is twice that, "little" below it
BANDS = ((0.2, "strong"), (0.1, "some"))


def evidence_strength(best_relevance: float, receipts: int, coefficients: Sequence[float] = COEFFICIENTS
                      ) -> float:
    """0..1 from the best receipt's relevance and the number of relevant receipts."""
    if receipts <= 0:
        return 0.0
    a, b, c = coefficients
    z = a + b * best_relevance + c * math.log1p(receipts)
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def evidence_band(strength: float) -> str:
    """strong, some or little evidence."""
    for floor, name in BANDS:
        if strength >= floor:
            return name
    return "little"

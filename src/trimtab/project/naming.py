"""Names in trimtab.yaml (what a system, environment or rule may be called) and
the "did you mean" hint every error about a name carries."""

from __future__ import annotations

import difflib
import re

NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")


def suggest(word: str, choices) -> str:
    """Typos (difflib) and abbreviations ('prod' for 'production') both get a hint."""
    choices = list(choices)
    # As difflib.get_close_matches, but a tie goes to the choice listed first.
    ratios = [difflib.SequenceMatcher(None, c, word).ratio() for c in choices]
    best = max(ratios, default=0.0)
    close = [c for c, r in zip(choices, ratios, strict=True) if r >= 0.6 and r == best][:1]
    if not close and len(word) >= 3:
        close = [c for c in choices if c.startswith(word)][:1]
    return f" Did you mean {close[0]!r}?" if close else ""

"""check_limits' shortcut (a body whose JSON text is too short, with too few brackets,
to break a limit is not walked) never lets through what the walk would refuse: for any
body and small limits, with and without the text, the same outcome."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from trimtab.gateway.bodies import check_limits
from trimtab.gateway.errors import GatewayError
from trimtab.project.models import InputLimitSpec

# Tiny limits (past the file's own minimums), so that bodies near every bound are common.
LIMITS = InputLimitSpec.model_construct(max_depth=3, max_messages=3, max_items=5,
                                        max_string=12)

values = st.recursive(
    st.none() | st.booleans() | st.integers(-99, 99) | st.text(max_size=16),
    lambda inner: st.lists(inner, max_size=7) | st.dictionaries(st.text(max_size=14), inner,
                                                                  max_size=7),
    max_leaves=12)


def outcome(body, raw=None):
    try:
        check_limits(body, LIMITS, raw)
    except GatewayError as exc:
        return exc.code, exc.param
    return None


@settings(max_examples=400, deadline=None)
@given(body=values, compact=st.booleans())
def test_the_shortcut_refuses_exactly_what_the_walk_refuses(body, compact):
    raw = json.dumps(body, separators=(",", ":") if compact else None,
                     ensure_ascii=False).encode("utf-8", "surrogatepass")
    assert outcome(body, raw) == outcome(body)


def test_bodies_at_each_bound_are_still_refused():
    string = "x" * 13
    items = [0, 0, 0, 0, 0, 0]
    nested = [[[[]]]]
    for body in (string, items, nested):
        raw = json.dumps(body, separators=(",", ":")).encode()
        assert outcome(body, raw) is not None and outcome(body, raw) == outcome(body)

"""--window, --since and --as-of take spans a date can hold: beyond 10 years the
command says so and exits 2, instead of an OverflowError."""

import pytest


@pytest.mark.parametrize("args", [
    ("metrics", "complaint-router", "--window", "99999999999d"),
    ("metrics", "complaint-router", "--window", "3000000d"),
    ("calls", "--since", "99999999999d"),
    ("audit", "log", "--since", "3000000d"),
    ("docs", "complaint-router", "--as-of", "99999999999w"),
])
def test_a_span_past_ten_years_is_a_one_line_error(cli, args):
    result = cli(*args, expect=2)
    assert "Traceback" not in result.output
    assert f"{args[-2]} '{args[-1]}': too long; at most 10 years (3660d). Fix:" in result.output

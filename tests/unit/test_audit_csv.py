"""CSV export cells a spreadsheet would run as a formula, however the formula is disguised."""

from __future__ import annotations

import pytest

from dli_admin.audit.export import csv_cell


@pytest.mark.parametrize(
    "text",
    [
        " =HYPERLINK(1)",
        "  +1",
        "\t-1",
        "\r@SUM(A1)",
        "\n=1+1",
        "\r\n=cmd|' /C calc'!A0",
        "\u00a0=1",  # NO-BREAK SPACE
        "\u3000=1",  # IDEOGRAPHIC SPACE
        "\u2003@A1",  # EM SPACE
        "\u200b=1",  # ZERO WIDTH SPACE
        "\ufeff=1",  # BYTE ORDER MARK
        "\uff1dSUM(A1)",  # FULLWIDTH EQUALS SIGN
        "\uff0b1",  # FULLWIDTH PLUS SIGN
        "\uff0d1",  # FULLWIDTH HYPHEN-MINUS
        "\uff20A1",  # FULLWIDTH COMMERCIAL AT
        " \uff1d1",
        "\t",
        "\rx",
    ],
)
def test_a_formula_behind_whitespace_or_in_full_width_gets_a_quote(text):
    assert csv_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["plain", " plain", "\nplain", "a=b", "a \uff1d b", " ", "", 42, -1, 0.5])
def test_text_that_is_no_formula_and_every_non_string_is_left_alone(value):
    assert csv_cell(value) == value

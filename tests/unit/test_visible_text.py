"""The `visible` filter: invisible characters in names and messages shown as marked escapes."""

from __future__ import annotations

import sys
import unicodedata

import pytest
from django.template import Context, Template
from django.utils.safestring import SafeString

from dli_admin.accounts.templatetags.visible import INVISIBLE, has_invisible, visible

CATEGORIES = {"Cc", "Cf", "Zl", "Zp", "Cs"}


def test_the_pattern_matches_exactly_the_invisible_categories_of_this_pythons_unicode():
    chars = (chr(c) for c in range(sys.maxunicode + 1))
    mismatched = [
        f"U+{ord(c):04X}"
        for c in chars
        if (unicodedata.category(c) in CATEGORIES) != bool(INVISIBLE.match(c))
    ]
    assert mismatched == [], f"INVISIBLE is out of date for Unicode {unicodedata.unidata_version}"


@pytest.mark.parametrize(
    ("char", "shown"),
    [
        ("\u202e", "\\u202e"),  # RIGHT-TO-LEFT OVERRIDE
        ("\u2066", "\\u2066"),  # LEFT-TO-RIGHT ISOLATE
        ("\u200f", "\\u200f"),  # RIGHT-TO-LEFT MARK
        ("\u061c", "\\u061c"),  # ARABIC LETTER MARK
        ("\u200b", "\\u200b"),  # ZERO WIDTH SPACE
        ("\ufeff", "\\ufeff"),  # BYTE ORDER MARK
        ("\u00ad", "\\u00ad"),  # SOFT HYPHEN
        ("\U000e0041", "\\U000e0041"),  # TAG LATIN CAPITAL LETTER A
        ("\x1b", "\\u001b"),  # ESCAPE
    ],
)
def test_it_shows_an_invisible_character_as_its_marked_escape(char, shown):
    html = visible(f"job{char}name")
    assert char not in html
    assert f">{shown}</span>" in html and 'class="invisible-char"' in html
    assert has_invisible(f"job{char}name")


def test_it_escapes_the_html_first_and_then_marks():
    html = visible('<b title="x">\u202e</b> & co')
    assert isinstance(html, SafeString)
    assert html == (
        '&lt;b title=&quot;x&quot;&gt;<span class="invisible-char" title="U+202E RIGHT-TO-LEFT OVERRIDE">'
        "\\u202e</span>&lt;/b&gt; &amp; co"
    )


def test_plain_text_is_only_escaped():
    assert visible("nightly-etl <v2> é 日本") == "nightly-etl &lt;v2&gt; é 日本"
    assert not has_invisible("nightly-etl <v2> é 日本")
    assert visible(None) == "None" and not has_invisible(None)


def test_a_template_does_not_escape_the_marks_again():
    rendered = Template("{% load visible %}<td>{{ name|visible }}</td>").render(
        Context({"name": "a\u202eb<"})
    )
    assert rendered == (
        '<td>a<span class="invisible-char" title="U+202E RIGHT-TO-LEFT OVERRIDE">\\u202e</span>b&lt;</td>'
    )

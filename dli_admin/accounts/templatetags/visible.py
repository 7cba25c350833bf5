"""Text from DLI or from clients shown as it is: invisible characters become visible escapes.

A job named "report\\u202egnp.exe" displays as "reportexe.png": a bidi control reorders what follows it,
and zero-width characters make two different names look the same. On a page where an operator decides
what to delete, every such character is shown as its escape (\\u202e), marked, instead of acting.
"""

from __future__ import annotations

import re
import unicodedata

from django import template
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

# Every character of the categories Cc (controls), Cf (format: bidi controls, zero widths, soft hyphen,
# BOM, tags), Zl, Zp (line and paragraph separators) and Cs (lone surrogates), as ranges, so a page
# runs one precompiled search per value. tests/unit/test_visible_text.py derives the same set from
# unicodedata, so a Python with a newer Unicode database says when this needs updating.
INVISIBLE = re.compile(
    r"[\x00-\x1f\x7f-\x9f\xad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f"
    r"\u2028-\u202e\u2060-\u2064\u2066-\u206f\ud800-\udfff\ufeff\ufff9-\ufffb\U000110bd\U000110cd"
    r"\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f]"
)


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _marked(match: re.Match[str]) -> str:
    char = match.group()
    name = unicodedata.name(char, "")
    title = f"U+{ord(char):04X} {name}".rstrip()
    return f'<span class="invisible-char" title="{title}">{_escape(char)}</span>'


@register.filter
def visible(value: object) -> SafeString:
    """The value HTML-escaped, then each invisible character replaced by its marked escape."""
    text = conditional_escape(
        value if isinstance(value, str) else str(value)
    )  # first: escaping neither adds nor removes invisible characters
    if not INVISIBLE.search(text):
        return text
    return mark_safe(INVISIBLE.sub(_marked, text))  # noqa: S308  escaped above; the marks are ours


@register.filter
def has_invisible(value: object) -> bool:
    return isinstance(value, str) and INVISIBLE.search(value) is not None

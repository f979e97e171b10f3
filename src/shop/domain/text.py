"""Text rules, once for every text the service stores or searches (names, usernames, emails, phones,
search terms, the login name): which characters are refused, how a name is normalised, and the key
two names are compared by. See docs/decisions.md, "Text rules in one place"."""

from __future__ import annotations

import re
import unicodedata

from shop.domain.errors import InvalidValue

# Refused everywhere: the C0 controls (NUL, tab, line breaks, escape...), DEL and the C1 controls
# (Unicode category Cc), the line and paragraph separators, lone surrogates (not text at all: no
# UTF-8 encodes them) and the 66 noncharacters. The same class is the OpenAPI `pattern` of text fields.
_NONCHARACTERS = "\ufdd0-\ufdef" + "".join(
    chr(plane * 0x10000 + last) for plane in range(17) for last in (0xFFFE, 0xFFFF)
)
_REFUSED = re.compile(f"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff{_NONCHARACTERS}]")
_DOCUMENTED_REFUSED = r"\x00-\x1F\x7F-\x9F\u2028\u2029\uFDD0-\uFDEF\uFFFE\uFFFF"
TEXT_PATTERN = rf"^[^{_DOCUMENTED_REFUSED}]*$"
# A new password: text, and not only digits (at least one character that is neither).
PASSWORD_PATTERN = rf"^[^{_DOCUMENTED_REFUSED}]*[^0-9{_DOCUMENTED_REFUSED}][^{_DOCUMENTED_REFUSED}]*$"

# Stripped from names and usernames: characters that show nothing (Unicode's default-ignorable code
# points) and so let two names look alike: zero-width spaces and joiners, bidi marks, embeddings,
# overrides and isolates, the soft hyphen, the byte order mark, Hangul fillers, invisible operators.
# Variation selectors and emoji tags, which change how the character before them looks, are kept.
INVISIBLE = (
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufeff\uffa0"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001"
)
_INVISIBLE = re.compile(f"[{INVISIBLE}]")


def check_text(value: str, field: str) -> str:
    """value, if it holds none of the refused characters; else InvalidValue naming field and the first one."""
    found = _REFUSED.search(value)
    if found is not None:
        raise InvalidValue.single(
            field,
            f"Must not contain control characters, line separators, lone surrogates or noncharacters: "
            f"found U+{ord(found.group()):04X} at position {found.start() + 1}.",
        )
    return value


def normalise(value: str) -> str:
    """A name as it is stored: invisible characters stripped, then NFKC (full-width letters, ligatures,
    compatibility spaces and digits become their plain forms; accents compose)."""
    return _INVISIBLE.sub("", unicodedata.normalize("NFKC", _INVISIBLE.sub("", value)))


def comparison_key(value: str) -> str:
    """What two names are compared by: normalised and case-folded (Unicode's compatibility caseless
    match), so "Matcha", "MATCHA", its full-width form and "Matcha" with a zero-width space are one name."""
    folded = unicodedata.normalize("NFKC", normalise(value).casefold())
    return unicodedata.normalize("NFKC", folded.casefold())


def search_key(value: str, field: str) -> str:
    """The key of a text looked up or searched for, refused as check_text refuses it."""
    return comparison_key(check_text(value, field))

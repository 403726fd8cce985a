"""A client's communication style applied to text: `formal` turns casual words into formal ones
("hey" -> "hello", "thanks" -> "thank you", "gonna" -> "going to"), `casual` the reverse
("hello" -> "hey", "thank you" -> "thanks").

Only whole words and phrases change: not a word inside another ("they", "thanksgiving"), joined to
another by a hyphen or an apostrophe ("hi-fi", "hey's"), or part of a link, an address, a hashtag
or a mention ("example.com/thanks", "#thanks", "@hey"). Case follows the word replaced (HEY ->
HELLO, Hey -> Hello, hey -> hello), and a replacement that starts a sentence (the start of the
text when `at_sentence_start`, or after ".", "!", "?" or a line break) starts with a capital.
Punctuation around the word stays as it is ("Thanks!" -> "Thank you!").

Personalisation applies it to the template's own text, before the client's values go in, so names
and other values from the CRM are never changed.
"""

from __future__ import annotations

import re
from functools import lru_cache

from tidings.models.crm import COMMUNICATION_STYLES

FORMAL: dict[str, str] = {
    "hey": "hello",
    "hi": "hello",
    "hiya": "hello",
    "thanks": "thank you",
    "thx": "thank you",
    "yeah": "yes",
    "yep": "yes",
    "yup": "yes",
    "nope": "no",
    "gonna": "going to",
    "wanna": "want to",
    "gotta": "have to",
    "kinda": "kind of",
    "lemme": "let me",
    "cheers": "kind regards",
}
CASUAL: dict[str, str] = {
    "hello": "hey",
    "thank you": "thanks",
    "kind regards": "cheers",
    "best regards": "cheers",
}
_TABLES = {"formal": FORMAL, "casual": CASUAL}

# Not inside a word, a link, an address, a hashtag or a mention, nor joined by - or ' to a word.
_BEFORE = r"(?<![\w/@#=&+%~])(?<!\w[.:'\u2019\-])"
_AFTER = r"(?![\w/@=&+%~])(?![.:'\u2019\-]\w)"
_SENTENCE_END = re.compile(r"(?:[.!?]|\n)[\"'\u201d\u2019)\]\s]*$")


def style_of(value: str | None) -> str | None:
    """The style a client's preference names ("Formal " -> "formal"); None for none or another."""
    wanted = (value or "").strip().lower()
    return wanted if wanted in COMMUNICATION_STYLES else None


@lru_cache(maxsize=len(_TABLES))
def _pattern(style: str) -> re.Pattern[str]:
    phrases = sorted(_TABLES[style], key=len, reverse=True)
    words = "|".join(r"\s+".join(re.escape(part) for part in phrase.split()) for phrase in phrases)
    return re.compile(f"{_BEFORE}(?:{words}){_AFTER}", re.IGNORECASE)


def _cased(found: str, replacement: str, starts_sentence: bool) -> str:
    letters = [c for c in found if c.isalpha()]
    if len(letters) > 1 and all(c.isupper() for c in letters):
        return replacement.upper()
    if found[:1].isupper() or starts_sentence:
        return replacement[:1].upper() + replacement[1:]
    return replacement


def restyle(text: str, style: str | None, *, at_sentence_start: bool = True) -> str:
    """`text` in `style` ("formal" or "casual"); unchanged for None or another style."""
    table = _TABLES.get(style or "")
    if table is None or not text:
        return text

    def replace(match: re.Match[str]) -> str:
        found = match.group(0)
        before = text[: match.start()]
        starts = (at_sentence_start and (not before or before.isspace())) or bool(
            _SENTENCE_END.search(before[-40:])
        )
        return _cased(found, table[" ".join(found.lower().split())], starts)

    return _pattern(style or "").sub(replace, text)

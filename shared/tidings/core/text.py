"""Text that can always be encoded again.

A JSON string may hold a lone UTF-16 surrogate (`"\\ud800"`), which Python reads into a `str` that
UTF-8 cannot encode. The API refuses such input (`tidings.api.limits`); text stored before that, or
read from elsewhere, is mended with U+FFFD (the replacement character) wherever it is written out.
"""

from __future__ import annotations

import re

# In a Python string, a surrogate is always a lone one (a pair is read as the character it encodes).
LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def mend(text: str) -> str:
    """`text` with each lone surrogate replaced by U+FFFD: always encodable as UTF-8."""
    return LONE_SURROGATE.sub("\ufffd", text)

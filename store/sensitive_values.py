"""The secret values this process handled lately, remembered so that any text leaving
it (an error report, a log line) can have them replaced, wherever they hide.

The secret store adds every value it encrypts or decrypts; the error-report
scrubber (:mod:`monitoring.scrub`) redacts with it. Values live in memory only,
bounded, never written anywhere.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict

SCRUBBED = "[scrubbed]"
TOKENS = re.compile(r"mbt_[A-Za-z0-9_\-]{20,}|Bearer\s+\S+", re.IGNORECASE)
_MAX_REMEMBERED = 2048


class SensitiveValues:
    """Secret values this process handled lately (bounded), to redact from any text."""

    def __init__(self, limit: int = _MAX_REMEMBERED) -> None:
        self._values: OrderedDict[str, None] = OrderedDict()
        self._limit = limit
        self._lock = threading.Lock()

    def add(self, value: str) -> None:
        """Remember a value (too short ones would redact ordinary words: skipped)."""
        if len(value) < 6:
            return
        with self._lock:
            self._values[value] = None
            self._values.move_to_end(value)
            while len(self._values) > self._limit:
                self._values.popitem(last=False)

    def redact(self, text: str) -> str:
        """``text`` with every remembered value and token replaced."""
        with self._lock:
            values = list(self._values)
        for value in values:
            if value in text:
                text = text.replace(value, SCRUBBED)
        return TOKENS.sub(SCRUBBED, text)


SENSITIVE = SensitiveValues()

"""Text types for input people write. PostgreSQL cannot store NUL, and no control character is ever meant in a
name or a briefing: refusing them on every engine keeps behaviour the same on SQLite and PostgreSQL."""

import re
from typing import Annotated

from pydantic import AfterValidator

# C0 controls other than tab and line breaks, and DEL.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
LINE_BREAKS = re.compile(r"[\t\n\r]")


def _prose(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    if CONTROL_CHARACTERS.search(value):
        raise ValueError("must not contain control characters (line breaks and tabs are fine)")
    return value


def _line(value: str) -> str:
    _prose(value)
    if LINE_BREAKS.search(value):
        raise ValueError("must be a single line")
    return value


# Free text people write (strategy, briefing, decisions, notes): kept exactly as written once it passes.
Prose = Annotated[str, AfterValidator(_prose)]
# A name or label: one line, no control characters.
Line = Annotated[str, AfterValidator(_line)]

"""The one line of a library's exception worth showing a user."""
from __future__ import annotations

import re

#: Lines of MXNet's and dmlc's error texts that locate the error rather than say it.
_NOISE = re.compile(r"^(Traceback \(most recent call last\):|File \"|Stack trace|\[bt\]|\s*$)")
_PREFIX = re.compile(r"^(?:\[\d\d:\d\d:\d\d\] \S+: )?(?:MXNetError: )?(?:Check failed: )?")


def reason(err: BaseException, limit: int = 200) -> str:
    """The first line of ``err``'s message that states the problem, at most ``limit`` characters.

    MXNet 1.9's errors start with a C++ "Traceback" and "File" lines, then the
    ``MXNetError: Check failed: ...`` line that says what went wrong; that line
    is returned without its prefixes. Other messages give their first line.
    """
    lines = [line.strip() for line in str(err).splitlines()]
    useful = [line for line in lines if not _NOISE.match(line)]
    text = _PREFIX.sub("", useful[0]) if useful else type(err).__name__
    return text[:limit]

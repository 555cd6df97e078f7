"""A JSON parser that answers a hostile body with a 400 instead of a 500.

DRF's JSONParser hands the body to ``json.load``, which recurses once per level of
nesting: 4 KB of ``[[[[…`` raises RecursionError, a 500. This parser refuses JSON nested
deeper than any of our resources needs before parsing it. (The body's size is already
held to ``DATA_UPLOAD_MAX_MEMORY_SIZE``: DRF reads it through ``request.body``, and
``spasticity.api_errors`` answers an oversized one with a 413.)
"""

from __future__ import annotations

import re
from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.utils import json

# Our deepest body is a dose change's flex steps (object → list → object): 32 is ample.
MAX_JSON_DEPTH = 32

# A JSON string, escapes included (written so that the regex engine does not backtrack).
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


def json_depth_exceeds(text: str, max_depth: int) -> bool:
    """True when ``text`` nests arrays/objects deeper than ``max_depth``.

    1. Drop the strings, so that brackets inside them do not count.
    2. Walk the remaining brackets, counting how deep they go.
    A malformed body may be miscounted here, but ``json.loads`` then refuses it anyway.
    """
    depth = 0
    for bracket in _BRACKET.finditer(_JSON_STRING.sub("", text)):
        depth += 1 if bracket.group() in "[{" else -1
        if depth > max_depth:
            return True
    return False


class DepthLimitedJSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing (400) JSON nested more than ``max_depth`` levels."""

    max_depth = MAX_JSON_DEPTH

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        # DRF's own charset check (refuses bz2_codec and the like); newer than its type stubs.
        encoding = parsers.get_encoding(parser_context or {})  # type: ignore[attr-defined]
        try:
            text = stream.read().decode(encoding)
        except UnicodeDecodeError as error:
            raise ParseError(f"JSON parse error - {error}") from error
        if json_depth_exceeds(text, self.max_depth):
            raise ParseError(f"JSON parse error - nested more than {self.max_depth} levels deep.")
        parse_constant = json.strict_constant if self.strict else None
        try:
            return json.loads(text, parse_constant=parse_constant)
        except (ValueError, RecursionError) as error:
            raise ParseError(f"JSON parse error - {error}") from error

"""The API's JSON parser (every JSON endpoint, /auth/login included): bounded before anything recurses.

* at most settings.REQUEST_MAX_BYTES are read (413 `request_too_large`);
* nesting deeper than settings.JSON_MAX_DEPTH is refused by a linear scan before `json.loads` runs
  (400 `nesting_too_deep`; 100,000 nested brackets used to be a RecursionError and a 500);
* NaN/Infinity are not JSON (400 `malformed_request`), integers longer than Python's 4,300 digits neither;
* a NUL character in any string or key is refused with a field error (400 `nul_character`): PostgreSQL
  cannot store it in text, and it used to surface as a 500.
"""
from __future__ import annotations

import json
import re

from django.conf import settings
from rest_framework import serializers
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from .errors import DomainError, message_for

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_BRACKET = re.compile(r"[\[\]{}]")


def nesting_exceeds(text: str, limit: int) -> bool:
    """True when arrays/objects nest deeper than `limit` (brackets inside strings do not count)."""
    if text.count("[") + text.count("{") <= limit:  # the common case: cannot be deeper
        return False
    depth = 0
    for match in _BRACKET.finditer(_STRING.sub("", text)):
        if match.group() in "[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def nul_paths(data, path: str = "") -> list[str]:
    """Where strings (values or keys) carry a NUL character; `data` is already depth-bounded."""
    if isinstance(data, str):
        return [path or "non_field_errors"] if "\x00" in data else []
    found: list[str] = []
    if isinstance(data, dict):
        for key, value in data.items():
            name = f"{path}.{key}" if path else str(key)
            found += [name.replace("\x00", "\\u0000")] if "\x00" in key else nul_paths(value, name)
    elif isinstance(data, list):
        for i, value in enumerate(data):
            found += nul_paths(value, f"{path}[{i}]" if path else str(i))
    return found


def refuse_nul(data) -> None:
    paths = nul_paths(data)
    if paths:
        detail = serializers.ErrorDetail(message_for("nul_character"), code="nul_character")
        raise serializers.ValidationError({p: [detail] for p in paths})


class StrictJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.REQUEST_MAX_BYTES
        raw = stream.read(limit + 1)
        if len(raw) > limit:
            raise DomainError("request_too_large", limit=limit)
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = raw.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        max_depth = settings.JSON_MAX_DEPTH
        if nesting_exceeds(text, max_depth):
            raise DomainError("nesting_too_deep", limit=max_depth)
        try:
            data = json.loads(text, parse_constant=_refuse_constant)
        except (ValueError, RecursionError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        refuse_nul(data)
        return data

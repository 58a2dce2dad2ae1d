"""JSON parsing for money endpoints: numbers become Decimals from their literal text.

Python's json module reads `0.1` as a binary float; parsed that way a body such as
`{"amount": 0.30000000000000004}` could round into a plausible amount. With `parse_float=Decimal`
the number keeps its exact digits, and the amount rules (at most two decimals) refuse it.
"""

import codecs
import json
from decimal import Decimal

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a number")


class DecimalJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", "utf-8")
        try:
            decoded = codecs.getreader(encoding)(stream)
            return json.load(decoded, parse_float=Decimal, parse_constant=_refuse_constant)
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc

"""A quick yes for a request body that plainly fits its schema, so that jsonschema runs only for the others.

jsonschema walks a body keyword by keyword, building a validator for each step: 10,000 completions took it
0.7 s, a third of the whole call. A body that fits is the usual case, and its answer has no detail to give;
so each component schema is read once into a plain Python function that answers fits / cannot say. Only a
"cannot say" (the body is wrong, or uses what the function does not judge) runs jsonschema, whose errors,
and so every message, are exactly as before.

The functions are made from the schemas the document publishes, never written beside them, and they only
ever say yes to less than jsonschema would: a keyword not understood here makes the whole schema "cannot
say", and where the JSON Schema rules are looser than Python's types (12.0 is an integer), the stricter reading
is taken. tests/test_api_quickcheck.py holds it to that against jsonschema on generated bodies.
"""

import re
from collections.abc import Callable
from functools import cache
from typing import Any

from jsonschema import FormatChecker

from blueprints.api.schemas import COMPONENTS

Check = Callable[[Any], bool]

# Keywords that say nothing of what fits.
ANNOTATIONS = frozenset({"description", "title", "examples", "default", "x-pattern-message"})
_FORMATS = FormatChecker()


class Unsupported(Exception):
    """A schema uses a keyword (or a form of one) this module does not judge."""


@cache
def ecma(pattern: str) -> re.Pattern[str]:
    """A JSON Schema ``pattern`` (ECMA-262) as Python reads it: ``$`` is the end of the string, where Python's
    also matches before a final newline ("13800000000\\n" would pass a phone pattern the document shows)."""
    return re.compile(pattern[:-1] + r"\Z" if pattern.endswith("$") and not pattern.endswith("\\$") else pattern)


def _resolve(schema: dict) -> dict:
    prefix = "#/components/schemas/"
    target = schema["$ref"]
    if set(schema) - {"$ref"} - ANNOTATIONS or not target.startswith(prefix):
        raise Unsupported(target)
    return COMPONENTS[target[len(prefix):]]


def _string(schema: dict) -> Check:
    low, high = schema.get("minLength", 0), schema.get("maxLength")
    search = ecma(schema["pattern"]).search if "pattern" in schema else None
    name = schema.get("format")
    if name is not None and name not in _FORMATS.checkers:
        raise Unsupported(f"format {name}")
    conforms = _FORMATS.conforms

    def fits(v: Any) -> bool:
        if type(v) is not str or len(v) < low or (high is not None and len(v) > high):
            return False
        return (search is None or search(v) is not None) and (name is None or conforms(v, name))

    return fits


def _integer(schema: dict) -> Check:
    low, high = schema.get("minimum"), schema.get("maximum")

    def fits(v: Any) -> bool:  # 12.0 is an integer to JSON Schema: "cannot say" here, jsonschema judges it
        return type(v) is int and (low is None or v >= low) and (high is None or v <= high)

    return fits


def _object(schema: dict) -> Check:
    properties = {name: compile_schema(sub) for name, sub in schema.get("properties", {}).items()}
    required = tuple(schema.get("required", ()))
    others_allowed = schema.get("additionalProperties", True)
    least = schema.get("minProperties", 0)
    if others_allowed not in (True, False):
        raise Unsupported("additionalProperties")

    def fits(v: Any) -> bool:
        if type(v) is not dict or len(v) < least:
            return False
        for name in required:
            if name not in v:
                return False
        for name, value in v.items():
            check = properties.get(name)
            if check is None:
                if not others_allowed:
                    return False
            elif not check(value):
                return False
        return True

    return fits


def _array(schema: dict) -> Check:
    item = compile_schema(schema["items"]) if "items" in schema else None
    low, high = schema.get("minItems", 0), schema.get("maxItems")

    def fits(v: Any) -> bool:
        if type(v) is not list or len(v) < low or (high is not None and len(v) > high):
            return False
        if item is not None:
            for element in v:
                if not item(element):
                    return False
        return True

    return fits


# The keywords judged, by the one type a schema names; a keyword of another type makes it "cannot say".
KINDS: dict[str, tuple[Callable[[dict], Check], frozenset[str]]] = {
    "string": (_string, frozenset({"minLength", "maxLength", "pattern", "format"})),
    "integer": (_integer, frozenset({"minimum", "maximum"})),
    "object": (_object, frozenset({"properties", "required", "additionalProperties", "minProperties"})),
    "array": (_array, frozenset({"items", "minItems", "maxItems"})),
}
# Schemas with no type of their own: an anyOf option that only requires properties.
REQUIRED_ONLY = frozenset({"required"})


def compile_schema(schema: dict) -> Check:
    """A function that is true only of instances ``schema`` accepts.

    :raise Unsupported: the schema uses a keyword (or a form of one) not judged here.
    """
    if "$ref" in schema:
        return compile_schema(_resolve(schema))
    keywords = set(schema) - ANNOTATIONS - {"anyOf"}
    if keywords == REQUIRED_ONLY:
        required = tuple(schema["required"])
        # Only of an object does "required" ask anything; the options below sit beside an object's type.
        own: Check = lambda v: type(v) is dict and all(name in v for name in required)  # noqa: E731
    else:
        kind = schema.get("type")
        if not isinstance(kind, str) or kind not in KINDS or keywords - {"type"} - KINDS[kind][1]:
            raise Unsupported(f"type {kind!r} with {sorted(keywords)}")
        own = KINDS[kind][0](schema)
    if "anyOf" not in schema:
        return own
    options = [compile_schema(option) for option in schema["anyOf"]]
    return lambda v: own(v) and any(option(v) for option in options)


@cache
def quick_check(name: str) -> Check | None:
    """The quick check of the component schema ``name``, or None when it uses what is not judged here."""
    try:
        return compile_schema(COMPONENTS[name])
    except Unsupported:
        return None


def plainly_fits(name: str, instance: Any) -> bool:
    """True only if ``instance`` fits the component schema ``name``; False says nothing."""
    check = quick_check(name)
    return check is not None and check(instance)

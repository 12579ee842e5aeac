"""Load the wire-protocol JSON Schema (schemas/protocol.schema.json) and validate messages.

>>> validate_message("client", {"type": "ping", "t": 1.5})
>>> validate_message("server", {"type": "pong", "t": 1.5, "seq": 0})

The schema describes the *decoded* msgpack value of one websocket frame. Validation
dispatches on the message's ``type`` first, so an error names the field that is wrong
rather than every alternative of the ``oneOf``.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any, Literal

import jsonschema  # type: ignore[import-untyped,unused-ignore]
from jsonschema.exceptions import relevance  # type: ignore[import-untyped,unused-ignore]

__all__ = ["SCHEMA_PATH", "Direction", "load_schema", "validate_message"]

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "protocol.schema.json"

Direction = Literal["client", "server"]
_ENTRY: dict[str, str] = {"client": "ClientMessage", "server": "ServerMessage"}
_DISCRIMINATORS = ("type", "op", "action")


def load_schema() -> dict[str, Any]:
    """The protocol schema as a fresh dict (JSON Schema draft 2020-12)."""
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema


@functools.cache
def _validators(direction: str) -> dict[str, Any]:
    """One validator per message ``type`` of the ``direction``'s entry point."""
    schema = load_schema()
    cls = jsonschema.Draft202012Validator

    def for_def(name: str) -> Any:
        # The root keeps $id and $defs, so every "#/$defs/..." reference resolves.
        return cls({**schema, "$ref": f"#/$defs/{name}"})

    entry = _ENTRY[direction]
    by_type: dict[str, Any] = {}
    for variant in schema["$defs"][entry]["oneOf"]:
        name = variant["$ref"].rsplit("/", 1)[-1]
        by_type[schema["$defs"][name]["properties"]["type"]["const"]] = for_def(name)
    return by_type


def validate_message(direction: Direction, message: dict[str, Any]) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``message`` is a valid ``direction`` message.

    ``direction`` is who sends it: ``"client"`` (client -> server) or ``"server"``.
    """
    if direction not in _ENTRY:
        raise ValueError(f"direction must be 'client' or 'server', not {direction!r}")
    by_type = _validators(direction)
    kind = message.get("type") if isinstance(message, dict) else None
    validator = by_type.get(kind) if isinstance(kind, str) else None
    if validator is None:
        if not isinstance(message, dict) or "type" not in message:
            what = "a map" if isinstance(message, dict) else type(message).__name__
            raise jsonschema.ValidationError(
                f"a message is a map with a string 'type'; got {what} without one",
                validator="required",
                instance=message,
            )
        known = ", ".join(sorted(by_type))
        raise jsonschema.ValidationError(
            f"{kind!r} is not a {direction} message type (known: {known})",
            validator="oneOf",
            instance=kind,
            path=["type"],
        )
    errors = list(validator.iter_errors(message))
    if errors:
        raise _explain(max(errors, key=relevance))


def _explain(error: Any) -> Any:
    """Descend through ``oneOf`` errors into the branch whose discriminator matched.

    A branch is ruled out when it failed on the ``const``/``enum`` of ``type``, ``op``
    or ``action`` right below the instance the ``oneOf`` looked at (or is itself a
    ``oneOf`` whose branches are all ruled out).
    """
    while error.context:
        depth = len(error.absolute_path)
        live = [b for b in _branches(error) if not _ruled_out(b, depth)]
        if len(live) == 1:
            error = max(live[0], key=relevance)
            continue
        if not live:
            misses = _misses([error], depth)
            key = misses[0].absolute_path[-1]
            expected: list[Any] = []
            for sub in misses:
                values = [sub.validator_value] if sub.validator == "const" else sub.validator_value
                expected += [v for v in values if v not in expected]
            return jsonschema.ValidationError(
                f"{misses[0].instance!r} is not a known {key!r}; expected one of "
                + ", ".join(repr(v) for v in expected),
                validator=error.validator,
                path=misses[0].absolute_path,
                instance=misses[0].instance,
            )
        return error
    return error


def _branches(error: Any) -> list[list[Any]]:
    grouped: dict[Any, list[Any]] = {}
    for sub in error.context:
        grouped.setdefault(sub.relative_schema_path[0], []).append(sub)
    return list(grouped.values())


def _is_miss(error: Any, depth: int) -> bool:
    return (
        error.validator in ("const", "enum")
        and len(error.absolute_path) == depth + 1
        and error.absolute_path[-1] in _DISCRIMINATORS
    )


def _ruled_out(branch: list[Any], depth: int) -> bool:
    if any(_is_miss(e, depth) for e in branch):
        return True
    nested = [e for e in branch if e.context and len(e.absolute_path) == depth]
    return (
        len(branch) == 1
        and bool(nested)
        and all(_ruled_out(b, depth) for b in _branches(nested[0]))
    )


def _misses(errors: list[Any], depth: int) -> list[Any]:
    """Every discriminator miss under ``errors``, through nested ``oneOf`` at the same level."""
    out = []
    for e in errors:
        if _is_miss(e, depth):
            out.append(e)
        elif e.context and len(e.absolute_path) == depth:
            out += _misses(list(e.context), depth)
    return out

"""The one shape of a refusal: a stable machine-readable code and a sentence saying what to do.

Every layer raises a subclass (an op, a value, a note, a job...); the room turns it into
an ``error`` message with the same code, so clients can act on codes and show messages.
"""

from __future__ import annotations


class Refused(Exception):
    """Refused, and nothing changed. ``code`` is stable; ``message`` says what to do next."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

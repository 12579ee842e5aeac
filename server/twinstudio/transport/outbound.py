"""A per-connection outbound queue that lets a slow receiver skip stale values.

Rules:

- Unkeyed messages (structural ops, notes, acks, errors) are delivered, in order.
- A keyed message (a property value, the presence list, the latest frame)
  replaces a queued, not-yet-sent message with the same key, and moves to the
  tail, *unless* an unkeyed message was queued after the old one. The
  replacement never jumps over a structural change, so a rename followed by a
  new value of a prop still arrives as rename-then-value.
- When more than ``limit`` messages or ``limit_bytes`` bytes are waiting, the
  receiver is too slow to keep up: ``put`` returns False and the caller should
  drop the connection (the client reconnects with its last seq and catches up).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from itertools import count


class OutboundQueue:
    """Ordered, coalescing queue of encoded messages. Single-consumer; asyncio-friendly."""

    def __init__(self, limit: int = 5_000, limit_bytes: int = 64 * 1024 * 1024) -> None:
        self.limit = limit
        self.limit_bytes = limit_bytes
        self.bytes = 0
        self._items: OrderedDict[int, tuple[str | None, bytes]] = OrderedDict()
        self._by_key: dict[str, int] = {}
        self._last_unkeyed = -1
        self._ids = count()
        self._ready = asyncio.Event()
        self.replaced = 0  # how many queued messages a newer one superseded
        self.closed = False

    def __len__(self) -> int:
        return len(self._items)

    def put(self, data: bytes, key: str | None = None) -> bool:
        """Queue ``data``; return False if the receiver has fallen ``limit`` messages behind."""
        if self.closed:
            return False
        if key is not None:
            old = self._by_key.get(key)
            if old is not None and old > self._last_unkeyed and old in self._items:
                self.bytes -= len(self._items.pop(old)[1])
                self.replaced += 1
        ident = next(self._ids)
        self._items[ident] = (key, data)
        self.bytes += len(data)
        if key is None:
            self._last_unkeyed = ident
        else:
            self._by_key[key] = ident
        self._ready.set()
        return len(self._items) <= self.limit and self.bytes <= self.limit_bytes

    def pop_nowait(self) -> bytes | None:
        """The next message, or None when empty."""
        if not self._items:
            self._ready.clear()
            return None
        ident, (key, data) = self._items.popitem(last=False)
        self.bytes -= len(data)
        if key is not None and self._by_key.get(key) == ident:
            del self._by_key[key]
        return data

    async def get(self) -> bytes | None:
        """Wait for the next message; None once closed and drained."""
        while True:
            data = self.pop_nowait()
            if data is not None:
                return data
            if self.closed:
                return None
            await self._ready.wait()

    def close(self) -> None:
        self.closed = True
        self._ready.set()

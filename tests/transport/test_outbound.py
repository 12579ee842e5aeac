"""The coalescing outbound queue: stale values are skipped, structure is never reordered."""

from __future__ import annotations

import asyncio

from hypothesis import given
from hypothesis import strategies as st

from twinstudio.transport.outbound import OutboundQueue


def drain(q: OutboundQueue) -> list[bytes]:
    out = []
    while (item := q.pop_nowait()) is not None:
        out.append(item)
    return out


def test_newer_value_replaces_a_queued_one() -> None:
    q = OutboundQueue()
    q.put(b"x=1", key="x")
    q.put(b"y=1", key="y")
    q.put(b"x=2", key="x")
    assert drain(q) == [b"y=1", b"x=2"]
    assert q.replaced == 1


def test_a_value_never_jumps_over_a_structural_message() -> None:
    q = OutboundQueue()
    q.put(b"x=1", key="x")
    q.put(b"rename", key=None)
    q.put(b"x=2", key="x")
    assert drain(q) == [b"x=1", b"rename", b"x=2"]


def test_unkeyed_messages_are_all_delivered_in_order() -> None:
    q = OutboundQueue()
    for i in range(100):
        q.put(str(i).encode())
    assert drain(q) == [str(i).encode() for i in range(100)]


def test_a_receiver_too_far_behind_is_reported() -> None:
    q = OutboundQueue(limit=3)
    assert all(q.put(b"m") for _ in range(3))
    assert not q.put(b"m")


async def test_get_waits_for_data_and_ends_when_closed() -> None:
    q = OutboundQueue()
    getter = asyncio.create_task(q.get())
    done, _ = await asyncio.wait({getter}, timeout=0.05)  # nothing queued: it must still wait
    assert not done
    q.put(b"hello")
    assert await asyncio.wait_for(getter, 1) == b"hello"
    q.close()
    assert await asyncio.wait_for(q.get(), 1) is None


messages = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c", None]), st.integers(0, 1000)), max_size=60
)


@given(messages)
def test_coalescing_keeps_the_final_state_and_structural_order(
    items: list[tuple[str | None, int]],
) -> None:
    """Replaying what is delivered gives the same final values as replaying everything,
    and structural messages keep their relative order."""
    q = OutboundQueue()
    for i, (key, value) in enumerate(items):
        q.put(f"{i}:{key}:{value}".encode(), key=key)
    delivered = [m.decode().split(":") for m in drain(q)]

    def final(seq: list[list[str]]) -> dict[str, str]:
        state: dict[str, str] = {}
        for _, key, value in seq:
            if key != "None":
                state[key] = value
        return state

    everything = [[str(i), str(k), str(v)] for i, (k, v) in enumerate(items)]
    assert final(delivered) == final(everything)
    assert [m for m in delivered if m[1] == "None"] == [m for m in everything if m[1] == "None"]
    indices = [int(m[0]) for m in delivered]
    # between structural messages, everything keyed before one stays before it
    for i, (_, key, _) in enumerate(delivered):
        if key == "None":
            assert all(j < int(delivered[i][0]) for j in indices[:i])


def test_queued_bytes_are_bounded_and_replacement_frees_them() -> None:
    q = OutboundQueue(limit_bytes=1000)
    assert q.put(b"f" * 600, key="frame")
    assert q.put(b"g" * 600, key="frame")  # replaces the first: 600 bytes queued
    assert q.bytes == 600
    assert not q.put(b"x" * 600)  # 1200 > 1000: too far behind
    drain(q)
    assert q.bytes == 0

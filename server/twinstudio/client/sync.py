"""The blocking Python API: the async session on a private event loop thread.

The replica stage only changes while one of this session's methods runs (the
ops received in between are applied at the start of the next call), so
``session.stage`` can be read safely between calls from the caller's thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from pxr import Usd

from twinstudio.client.posing import TWIN
from twinstudio.client.session import AsyncSession, Frame, aconnect

T = TypeVar("T")


class Session:
    """A joined member of a room, for scripts. Create it with :func:`connect`."""

    def __init__(self, url: str, room: str, token: str, name: str | None, timeout: float) -> None:
        self.timeout = timeout
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="twinstudio-client", daemon=True
        )
        self._thread.start()
        try:
            self._async: AsyncSession = self._run(
                aconnect(url, room, token, name, auto_apply=False)
            )
        except BaseException:
            self._stop()
            raise

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout or self.timeout)

    def _call(self, fn: Callable[[AsyncSession], Coroutine[Any, Any, T]]) -> T:
        async def call() -> T:
            self._async.apply_buffered()
            result = await fn(self._async)
            self._async.apply_buffered()
            return result

        return self._run(call())

    def _sync(self) -> None:
        async def apply() -> None:
            self._async.apply_buffered()

        self._run(apply())

    # edits ---------------------------------------------------------------------------

    def set(self, path: str, attribute: str, value: Any) -> int:
        """Set ``path.attribute``; return its seq once the server made it durable.

        Raises StudioError (``.code``) when the server refused it.
        """
        return self._call(lambda s: s.set(path, attribute, value))

    def clear(self, path: str, attribute: str) -> int:
        return self._call(lambda s: s.clear(path, attribute))

    def submit(self, op: Any) -> int:
        return self._call(lambda s: s.submit(op))

    def transform(
        self, path: str, translate: Any = None, rotate: Any = None, scale: Any = None
    ) -> int:
        return self._call(lambda s: s.transform(path, translate, rotate, scale))

    def set_light(self, path: str, **kw: Any) -> int:
        return self._call(lambda s: s.set_light(path, **kw))

    def set_lens(self, path: str, **kw: Any) -> int:
        return self._call(lambda s: s.set_lens(path, **kw))

    def select_variant(self, path: str, variant_set: str, selection: str | None) -> int:
        return self._call(lambda s: s.select_variant(path, variant_set, selection))

    def pose(
        self,
        path: str = TWIN,
        rotations: Mapping[str, Sequence[float]] | None = None,
        *,
        preset: str | None = None,
        offsets: Mapping[str, Sequence[float]] | None = None,
    ) -> int:
        """Pose the twin: a library ``preset``, joint ``rotations`` and/or Euler ``offsets``
        from rest (degrees), as one undoable step; see AsyncSession.pose."""
        return self._call(lambda s: s.pose(path, rotations, preset=preset, offsets=offsets))

    def pose_presets(self, path: str = TWIN) -> list[str]:
        """The names of the twin's pose presets."""
        self._sync()
        return self._async.pose_presets(path)

    @contextlib.contextmanager
    def batch(self, label: str = "Edit") -> Iterator[None]:
        """Edits made in the block are sent at its end as one atomic, undoable batch."""
        if self._async._batch is not None:
            raise RuntimeError("batches do not nest")
        self._async._batch = []
        try:
            yield
        except BaseException:
            self._async._batch = None
            raise
        ops, self._async._batch = self._async._batch, None
        if ops:
            from twinstudio.stage.ops import Batch

            self.submit(Batch(label, tuple(ops)))

    def undo(self) -> int:
        return self._call(lambda s: s.undo())

    def redo(self) -> int:
        return self._call(lambda s: s.redo())

    def lock(self, path: str) -> None:
        self._call(lambda s: s.lock(path))

    def unlock(self, path: str) -> None:
        self._call(lambda s: s.unlock(path))

    def add_note(self, text: str, **anchor: Any) -> str:
        return self._call(lambda s: s.add_note(text, **anchor))

    def reply_note(self, note_id: str, text: str) -> int:
        return self._call(lambda s: s.reply_note(note_id, text))

    def resolve_note(self, note_id: str, resolved: bool = True) -> int:
        return self._call(lambda s: s.resolve_note(note_id, resolved))

    def save_take(self, name: str) -> int:
        return self._call(lambda s: s.save_take(name))

    def restore_take(self, name: str) -> int:
        return self._call(lambda s: s.restore_take(name))

    def diff_takes(self, a: str | None, b: str | None = None) -> list[dict[str, Any]]:
        return self._call(lambda s: s.diff_takes(a, b))

    def next_frame(self, timeout: float | None = None, *, min_seq: int = 0) -> Frame:
        """Block until a newer frame of the review camera arrives; see AsyncSession.next_frame."""
        t = timeout or self.timeout
        return self._run(self._async.next_frame(t, min_seq=min_seq), timeout=t + 5)

    def submit_render(self, camera: str | None = None, **options: Any) -> list[str]:
        """Order final renders; see AsyncSession.submit_render. Returns the job ids."""
        return self._call(lambda s: s.submit_render(camera, **options))

    def wait_render(self, job_id: str, timeout: float = 600.0) -> dict[str, Any]:
        return self._run(self._async.wait_render(job_id, timeout), timeout=timeout + 5)

    def download_render(self, name_or_job: str) -> bytes:
        return self._call(lambda s: s.download_render(name_or_job))

    def set_review(self, **changes: Any) -> int:
        return self._call(lambda s: s.set_review(**changes))

    # replica -------------------------------------------------------------------------

    def wait_for(self, seq: int, timeout: float | None = None) -> None:
        """Block until the replica has everything up to ``seq``."""
        self._call(lambda s: s.wait_for(seq, timeout or self.timeout))

    def get(self, path: str, attribute: str) -> Any:
        self._sync()
        return self._async.get(path, attribute)

    @property
    def seq(self) -> int:
        self._sync()
        return self._async.seq

    @property
    def stage(self) -> Usd.Stage:
        self._sync()
        return self._async.stage

    @property
    def notes(self) -> dict[str, dict[str, Any]]:
        return dict(self._async.notes)

    @property
    def takes(self) -> dict[str, dict[str, Any]]:
        return dict(self._async.takes)

    @property
    def members(self) -> list[dict[str, Any]]:
        return list(self._async.members)

    @property
    def locks(self) -> list[dict[str, Any]]:
        return list(self._async.locks)

    def subscribe(self, listener: Callable[[dict[str, Any]], None]) -> Callable[[], None]:
        """``listener(message)`` runs in your thread, during this session's calls."""
        return self._async.subscribe(listener)

    # lifecycle -----------------------------------------------------------------------

    def close(self) -> None:
        """Leave the room and stop the session's thread."""
        if self._loop.is_running():
            with contextlib.suppress(Exception):
                self._run(self._async.close(), timeout=10)
        self._stop()

    def _stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(
    url: str,
    room: str = "default",
    token: str = "",
    name: str | None = None,
    *,
    timeout: float = 30.0,
) -> Session:
    """Join ``room`` on the server at ``url`` (``http://host:port``); blocks until joined."""
    return Session(url, room, token, name, timeout)

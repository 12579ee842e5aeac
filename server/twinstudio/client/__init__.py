"""The Python API: ``connect`` (blocking) and ``aconnect`` (asyncio) join a room.

>>> from twinstudio.client import connect
>>> with connect("http://127.0.0.1:8420", room="default", token=TOKEN, name="script") as s:
...     seq = s.set("/Studio/Lights/Key", "inputs:intensity", 30.0)
...     s.get("/Studio/Lights/Key", "inputs:intensity")
30.0
"""

from twinstudio.client.session import AsyncSession, Frame, StudioError, aconnect
from twinstudio.client.sync import Session, connect

__all__ = ["AsyncSession", "Frame", "Session", "StudioError", "aconnect", "connect"]

"""Twin Studio: a collaborative virtual photo studio around one shared OpenUSD stage.

The package tree mirrors the architecture:

- ``stage``: the sans-I/O edit core (values, ops, validation, application to a stage).
- ``rooms``: ordering, presence, locks, undo, notes, takes and the write-ahead journal.
- ``transport``: the aiohttp server (websocket + REST) around rooms.
- ``client``: the Python API (async and sync) over the same wire protocol.
"""

__version__ = "0.1.0"

"""Joins a room, locks the twin, prints "joined", then idles (the test freezes it)."""

import sys
import threading

from twinstudio.client import connect

session = connect(sys.argv[1], token=sys.argv[2], name="Ghost")
session.lock("/Studio/Twin")
print("joined", flush=True)
threading.Event().wait()

"""Joins a room, locks the twin, prints 'joined', then idles until killed (the test freezes it with SIGSTOP)."""

import sys
import threading

from twinstudio.client import connect

session = connect(sys.argv[1], token=sys.argv[2], name="Ghost")
session.lock("/Studio/Twin")
print("joined", flush=True)
threading.Event().wait()

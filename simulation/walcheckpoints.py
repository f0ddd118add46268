"""SQLite's WAL checkpoints on a thread of their own, not in a commit on the event loop's thread.

In WAL mode SQLite appends each transaction to the ``-wal`` file and copies the pages back into
the database file at a *checkpoint*. By default the connection whose commit takes the log past
1,000 pages runs it, inside that commit -- and with ``synchronous=NORMAL`` a checkpoint is the one
moment SQLite syncs the files to disk. The units of :meth:`simulation.database.Database.run` run
in the event loop's thread: 200 applications in one process committed 21,700 units, 84 of which
took over a millisecond (up to 16 ms) for half of the 0.87 s all commits took -- every system of
the process stood still while one file synced.

So the units' own connections do not checkpoint (``PRAGMA wal_autocheckpoint=0``) and this
module's thread checkpoints every file a unit connection of this process writes to, every
:data:`INTERVAL` seconds, ``PASSIVE`` (it copies what no reader still needs and never makes a
writer wait; a file with nothing new costs a few microseconds). The durability is the same:
a commit is in the log as before, and the log reaches the database file at the next checkpoint.
The other connections keep SQLite's own automatic checkpoint, which the log then seldom reaches.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading

INTERVAL = 0.1
"""Seconds between two rounds of checkpoints."""

log = logging.getLogger(__name__)

_lock = threading.Lock()
_users: dict[str, int] = {}
"""The files to checkpoint, with how many connections of this process write to each."""
_thread: threading.Thread | None = None
_wake = threading.Event()


def register(path: str) -> None:
    """Checkpoint ``path`` from now on (once more for each call, until :func:`unregister`)."""
    global _thread
    with _lock:
        _users[path] = _users.get(path, 0) + 1
        if _thread is None or not _thread.is_alive():
            _wake.clear()
            _thread = threading.Thread(target=_run, name="sqlite-checkpoints", daemon=True)
            _thread.start()


def unregister(path: str) -> None:
    """One writer of ``path`` less; the file is checkpointed one last time when the last goes."""
    with _lock:
        users = _users.get(path, 0) - 1
        if users > 0:
            _users[path] = users
        else:
            _users.pop(path, None)
    _wake.set()


def _run() -> None:
    global _thread
    connections: dict[str, sqlite3.Connection] = {}
    while True:
        with _lock:
            wanted = set(_users)
            if not wanted and not connections:
                _thread = None  # a later register starts another
                return
        for path in list(connections):
            if path not in wanted:  # its last writer went: what it wrote reaches the file, then close
                _checkpoint(connections.pop(path), path, close=True)
        for path in wanted:
            if path not in connections:
                try:
                    connections[path] = sqlite3.connect(path, timeout=0, isolation_level=None,
                                                        check_same_thread=False)
                except sqlite3.Error as exc:
                    log.warning("cannot open %s to checkpoint it: %s", path, exc)
                    continue
            _checkpoint(connections[path], path)
        _wake.wait(INTERVAL)
        _wake.clear()


def _checkpoint(connection: sqlite3.Connection, path: str, close: bool = False) -> None:
    try:
        connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    except sqlite3.Error as exc:  # the file went away (a run's data dropped), or a lock: next round
        log.debug("checkpoint of %s: %s", path, exc)
    finally:
        if close:
            connection.close()


def _forget_after_fork() -> None:
    """A forked child has none of its parent's threads or connections."""
    global _thread, _lock
    _lock = threading.Lock()
    _users.clear()
    _thread = None


os.register_at_fork(after_in_child=_forget_after_fork)

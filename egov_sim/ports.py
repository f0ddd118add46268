"""Finding room on loopback for a run's systems."""

from __future__ import annotations

import socket

from simulation.topology import SYSTEMS


def free_base_port(span: int | None = None, attempts: int = 200) -> int:
    """A base port with ``span`` free ports after it (default: room for every system)."""
    span = span or max(s.port_offset for s in SYSTEMS.values()) + 1
    for _ in range(attempts):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base + span >= 65535:
            continue
        taken: list[socket.socket] = []
        try:
            for port in range(base, base + span):
                sock = socket.socket()
                taken.append(sock)
                sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in taken:
                sock.close()
    raise RuntimeError(f"no run of {span} free ports on 127.0.0.1")

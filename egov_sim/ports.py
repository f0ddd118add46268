"""Finding room on loopback for a run's systems."""

from __future__ import annotations

import random
import socket
from pathlib import Path

from simulation.topology import SYSTEMS

_LOWEST = 10_000
_EPHEMERAL = Path("/proc/sys/net/ipv4/ip_local_port_range")


def ephemeral_ports() -> tuple[int, int]:
    """The range the kernel takes the local ports of outgoing connections from (Linux's default
    when it cannot be read)."""
    try:
        low, high = (int(n) for n in _EPHEMERAL.read_text().split())
        return low, high
    except (OSError, ValueError):
        return 32768, 60999


def free_base_port(span: int | None = None, attempts: int = 200) -> int:
    """A base port with ``span`` free ports after it (default: room for every system).

    The run lies below the kernel's ephemeral range: a port in it that is free now can be taken by
    any outgoing connection (a database client's, say) before the system binds it."""
    span = span or max(s.port_offset for s in SYSTEMS.values()) + 1
    low, high = ephemeral_ports()
    below = range(_LOWEST, low - span) if low - span > _LOWEST else range(0)
    above = range(high + 1, 65536 - span) if high + 1 < 65536 - span else range(0)
    choices = below if len(below) >= len(above) else above
    if not choices:
        raise RuntimeError(f"no room for {span} ports outside the ephemeral range {low}-{high}")
    for _ in range(attempts):
        base = random.choice(choices)
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

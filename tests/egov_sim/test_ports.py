"""A run's ports are found outside the kernel's ephemeral range, where no outgoing connection can
take one between the search and the systems' binding it."""

from __future__ import annotations

import socket

from egov_sim.ports import ephemeral_ports, free_base_port
from simulation.topology import SYSTEMS


def test_the_base_port_leaves_room_for_every_system_outside_the_ephemeral_range():
    low, high = ephemeral_ports()
    span = max(s.port_offset for s in SYSTEMS.values()) + 1
    for _ in range(20):
        base = free_base_port()
        assert base + span <= low or base > high
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", base + span - 1))

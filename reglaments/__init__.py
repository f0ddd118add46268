"""Reglament definitions: each state service's reglament as data, checked on load.

A definition (``reglaments/definitions/<id>.yaml``) holds what the seed's sections 2-4 say: the
numbered processes and conditions of each channel with their Kazakh text, the branches, which
system performs each step, and the provider staff's procedures with their durations. The systems
look every step up here; none hard-codes a label, a number or a duration.
"""

from reglaments.model import (
    Channel,
    Reglament,
    ReglamentError,
    StaffStep,
    Step,
    StepKind,
    all_reglaments,
    get_reglament,
)

__all__ = [
    "Channel",
    "Reglament",
    "ReglamentError",
    "StaffStep",
    "Step",
    "StepKind",
    "all_reglaments",
    "get_reglament",
]

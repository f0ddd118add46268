"""The simulation's control system: drives the virtual clock and serves the trace (:mod:`control.app`)."""

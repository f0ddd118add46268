"""What every simulated system is built on, one floor above :mod:`simulation`.

:mod:`simulation` is the ground floor (clock, calendar, databases, trace, the reglament engine)
and imports nothing of the systems. This package joins it with the PKI (:mod:`signatures`) and
the gateway protocol (:mod:`gateway_protocol`) into what a system's app needs at run time:

- :mod:`runtime.system` -- :class:`SystemRuntime` (a system's databases, clock, trace, PKI identity,
  HTTP clients, timers) and :func:`system_app`, the FastAPI app built around it;
- :mod:`runtime.registration` -- request data checked field by field, and gap-free per-year
  registration numbers, for the providers that register what they receive.
"""

from runtime.system import Runtime, SystemRuntime, get_runtime, system_app

__all__ = ["Runtime", "SystemRuntime", "get_runtime", "system_app"]

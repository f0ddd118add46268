"""egov-sim: running the simulated systems together.

- ``egov-sim demo`` -- one application through the portal, every system in one process;
- ``egov-sim up`` -- every system as its own process on 127.0.0.1;
- :mod:`egov_sim.inprocess` -- the systems in one process, for tests and demos;
- :mod:`egov_sim.citizen` -- a citizen's actions over HTTP, as the demo and the tests play them.
"""

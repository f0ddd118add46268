"""egov-sim: running the simulated systems together.

- ``egov-sim demo`` -- one application through the portal, every system in one process;
- ``egov-sim run`` -- one case of a reglament's channel end to end (:mod:`egov_sim.scenarios`);
- ``egov-sim up`` -- every system as its own process on 127.0.0.1;
- :mod:`egov_sim.cli` -- the command itself, which imports only what the chosen command needs;
- :mod:`egov_sim.world` -- the fresh (temporary) or named data directory a demo or run plays in;
- :mod:`egov_sim.texts` -- the narration's words in Kazakh, Russian and English (``--lang``);
- :mod:`egov_sim.inprocess` -- the systems in one process, for tests and demos;
- :mod:`egov_sim.citizen` -- a citizen's actions over HTTP, as the demo and the tests play them.
"""

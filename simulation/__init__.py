"""The simulation's shared machinery.

Nothing here stands for a real state system: these are the pieces every simulated system needs
to take part in one simulation run.

- :mod:`simulation.settings` -- configuration from ``EGOV_SIM_*`` environment variables;
- :mod:`simulation.topology` -- the table of simulated systems, their ports and gateway identities;
- :mod:`simulation.database` -- each system's own database (SQLite by default, PostgreSQL by URL);
- :mod:`simulation.calendar` -- reglament durations and Kazakhstan's working-day calendar;
- :mod:`simulation.clock` -- the virtual clock and the timers scheduled on it;
- :mod:`simulation.trace` -- the record of every numbered reglament step;
- :mod:`simulation.identifiers` -- ЖСН / БСН validation;
- :mod:`simulation.apidocs` -- each system's Swagger UI and ReDoc pages, their files served locally;
- :mod:`simulation.hopclient` -- the HTTP/1.1 client of the gateways' hop to the next system;
- :mod:`simulation.jsoncodec` -- JSON on the message path (orjson, the standard library's answers);
- :mod:`simulation.tasks` -- waiting for and stopping background tasks for sure;
- :mod:`simulation.observability` -- structured logs carrying the correlationId.
"""

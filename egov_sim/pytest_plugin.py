"""The egov-sim pytest plugin (entry point group ``pytest11``): fixtures for developers who test
one subsystem against the others. Its fixtures are documented in docs/developers.md."""

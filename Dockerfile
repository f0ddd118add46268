# One image for every simulated system of egov-sim.
#
# The image holds the installed project; which system a container runs is chosen by its command,
# e.g. `uvicorn --factory gateway.app:create_central_app --host 0.0.0.0 --port 8702`
# (docker-compose.yml sets one such command per system). Without a command it prints the help of
# the `egov-sim` CLI.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY . .
RUN pip install . \
    && rm -rf /src

# Fail the build, rather than a container at start-up, if an installed system cannot be imported,
# or cannot start and read its data (a data file that the package metadata does not ship, say):
# import every system's app, then run the demo, every system in one process, in a world that is
# removed afterwards. tests/test_wheel.py checks the same wheel without Docker.
RUN python -c "import importlib; from simulation.topology import SYSTEMS; \
[getattr(importlib.import_module(s.app.split(':')[0]), s.app.split(':')[1]) for s in SYSTEMS.values()]" \
    && egov-sim demo --data-dir /tmp/build-check > /dev/null \
    && rm -rf /tmp/build-check

# An unprivileged user. /data is created here and owned by it, so a fresh named volume mounted
# there inherits that ownership and the systems can write the run's keys and files.
RUN useradd --create-home --uid 10001 egov \
    && mkdir /data \
    && chown egov:egov /data
USER egov
WORKDIR /home/egov

ENV EGOV_SIM_DATA_DIR=/data

CMD ["egov-sim", "--help"]

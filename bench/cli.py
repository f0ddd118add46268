"""Start-up time of the ``egov-sim`` command, side by side with a bare Python start-up.

Run from the repository root::

    python bench/cli.py              # about 20 s
    python bench/cli.py --rounds 40  # steadier

Each row is a whole process, started the way a user starts it and timed from spawn to exit with
``time.perf_counter``:

==================  =====================================================================
row                 command
==================  =====================================================================
python              ``python -c pass``: the interpreter's own start-up, the baseline
help                ``python -m egov_sim.cli --help``
usage_error         ``python -m egov_sim.cli run`` (required arguments missing: exit 2)
pki_help            ``python -m egov_sim.cli pki issue --help`` (a command's own parser)
eager_imports       ``python -c "import egov_sim.pki, egov_sim.gateway_cli, simulation.settings"``
                    with the heavy imports those modules once had at their top (FastAPI,
                    SQLAlchemy, cryptography, pydantic-settings): what every command paid
                    before the CLI imported only what a command needs; for scale
==================  =====================================================================

Method: every command runs twice to warm the file cache, then the rows run in alternation,
python help usage_error pki_help eager_imports, python help …, for ``--rounds`` rounds; a row's
time is its median round, so a burst of load from another process moves one round, not the
result. Each run's exit status and output are checked, so a broken command cannot pass for a
fast one. Reported: the median and the fastest run of each row in milliseconds, the median over
the baseline (what egov-sim adds to starting Python) and the ratio median / baseline median.

The last line of the output is machine-readable ``key=value`` pairs.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parent.parent

EAGER = ("import fastapi, sqlalchemy, sqlmodel, cryptography.x509, pydantic_settings; "
         "import egov_sim.pki, egov_sim.gateway_cli, simulation.settings, signatures.service")


@dataclass(frozen=True)
class Row:
    name: str
    argv: tuple[str, ...]
    status: int
    expect: str
    """Text the output (stdout and stderr) must contain."""


ROWS = (
    Row("python", ("-c", "pass"), 0, ""),
    Row("help", ("-m", "egov_sim.cli", "--help"), 0, "usage: egov-sim"),
    Row("usage_error", ("-m", "egov_sim.cli", "run"), 2, "the following arguments are required"),
    Row("pki_help", ("-m", "egov_sim.cli", "pki", "issue", "--help"), 0, "--iin"),
    Row("eager_imports", ("-c", EAGER), 0, ""),
)


def run_once(row: Row) -> float:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (str(_REPO_ROOT), os.environ.get("PYTHONPATH"))))}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, *row.argv], capture_output=True, text=True, env=env, cwd=_REPO_ROOT)
    took = time.perf_counter() - started
    if done.returncode != row.status or row.expect not in done.stdout + done.stderr:
        raise SystemExit(f"bench/cli.py: {row.name} exited {done.returncode} (expected {row.status}) "
                         f"or lacks {row.expect!r}:\n{done.stdout}{done.stderr}")
    return took


def sig3(value: float) -> str:
    return f"{value:.3g}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15, help="alternating rounds (default 15)")
    options = parser.parse_args()
    if options.rounds < 1:
        parser.error("--rounds must be 1 or more")

    print(f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs; "
          f"{options.rounds} rounds")
    for row in ROWS:  # warm-up: file cache, .pyc files
        run_once(row)
        run_once(row)
    times: dict[str, list[float]] = {row.name: [] for row in ROWS}
    for _ in range(options.rounds):
        for row in ROWS:
            times[row.name].append(run_once(row))

    base = statistics.median(times["python"])
    print(f"\n{'row':<15} {'median ms':>10} {'fastest ms':>11} {'over python ms':>15} {'÷ python':>9}")
    results: dict[str, tuple[float, float]] = {}
    for row in ROWS:
        median = statistics.median(times[row.name])
        results[row.name] = (median, median / base)
        print(f"{row.name:<15} {median * 1000:>10.1f} {min(times[row.name]) * 1000:>11.1f} "
              f"{(median - base) * 1000:>15.1f} {median / base:>9.2f}")
    spread = {name: (max(t) - min(t)) / statistics.median(t) for name, t in times.items()}
    print("spread (max - min) / median: " + ", ".join(f"{n} {s:.2f}" for n, s in spread.items()))
    print(" ".join(
        [f"python_ms={base * 1000:.1f}"]
        + [f"{name}_ms={median * 1000:.1f} {name}_ratio={sig3(ratio)}"
           for name, (median, ratio) in results.items() if name != "python"]
    ))
    return 0


if __name__ == "__main__":
    sys.exit(main())

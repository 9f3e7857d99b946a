"""A fleet of virtual stickers from a scenario file, against Mosquitto and the backend's ingestion.

Runs the scenario (default: simulator/scenarios/office-fortnight.toml, 1,000 stickers) with
the real firmware on the MicroPython unix port, and prints the fleet report: openings the
fleet performed, opened events the firmware recorded, and what the backend stored. The
ratio printed last is the real time the run took over the time its compressed calendar
gives, both from the same run. At 1.00 the machine kept pace with the scenario. Above it,
the boards and ingestion fell behind the calendar.

    uv run python benchmarks/fleet.py [SCENARIO] [--stickers N] [--database-url URL]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from simulator.fleet import Fleet, format_report, load_scenario

DEFAULT_SCENARIO = Path(__file__).resolve().parent.parent / "simulator" / "scenarios" / "office-fortnight.toml"


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", type=Path, default=DEFAULT_SCENARIO)
    parser.add_argument("--stickers", type=int, default=None, help="instead of the scenario's count")
    parser.add_argument("--database-url", default=None, help="an empty database (default: SQLite)")
    arguments = parser.parse_args()

    from backend.core.logging import configure_logging

    configure_logging("development", level=30)
    scenario = load_scenario(arguments.scenario)
    if arguments.stickers:
        scenario = replace(scenario, stickers=arguments.stickers)
    with tempfile.TemporaryDirectory(prefix="ikki-fleet-bench-") as work_dir:
        report = Fleet(scenario, Path(work_dir), database_url=arguments.database_url).run()
    print(f"{os.cpu_count()} cores, {cpu_model()}")
    print(format_report(report))
    planned_s = report["scenario"]["real_seconds"]
    ratio = report["timing"]["run_s"] / planned_s
    print(json.dumps({"planned_s": planned_s, "run_s": report["timing"]["run_s"], "ratio": round(ratio, 3)}))
    print(f"run time / scenario time: {ratio:.2f}")
    return 0 if report["checks"]["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())

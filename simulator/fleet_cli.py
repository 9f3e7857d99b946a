"""`fleet` commands: run many virtual stickers from a scenario file against the backend.

fleet plan SCENARIO                  # what the scenario draws, without running it
fleet run SCENARIO --work-dir DIR    # run it; prints and saves the report
"""

from __future__ import annotations

import json
import signal
import tempfile
from dataclasses import replace
from pathlib import Path

import click
import sqlalchemy.exc

from simulator.fleet import (
    Fleet,
    FleetError,
    ScenarioError,
    format_report,
    load_scenario,
    plan,
    plan_summary,
    write_report,
)
from simulator.upython import MicroPythonMissing

_SCENARIO = click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
_STICKERS = click.option(
    "--stickers", type=click.IntRange(1, 100_000), default=None,
    help="Number of stickers, instead of the scenario's [fleet] stickers.",
)


def _scenario(path: Path, stickers: int | None):
    try:
        scenario = load_scenario(path)
    except ScenarioError as error:
        raise click.ClickException(str(error)) from error
    if stickers is not None:
        scenario = replace(scenario, stickers=stickers)
    return scenario


@click.group()
def fleet() -> None:
    """Run many virtual stickers from a scenario file and compare what the backend saw."""


@fleet.command("plan")
@_SCENARIO
@_STICKERS
def plan_command(scenario: Path, stickers: int | None) -> None:
    """Show what SCENARIO draws (openings, flashes, duration) without running it."""
    loaded = _scenario(scenario, stickers)
    click.echo(json.dumps(plan_summary(loaded, plan(loaded)), indent=2))


@fleet.command("run")
@_SCENARIO
@_STICKERS
@click.option(
    "--work-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Where the boards, the broker and the database live (default: a new temporary folder).",
)
@click.option(
    "--database-url", default=None,
    help="An empty database for the fleet's backend (default: SQLite in the work folder).",
)
@click.option(
    "--report", "report_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Also write the report as JSON to this file; report.json in the work folder always has it.",
)
def run_command(scenario: Path, stickers: int | None, work_dir: Path | None,
                database_url: str | None, report_path: Path | None) -> None:
    """Run SCENARIO: real firmware on virtual boards, Mosquitto, and the backend's ingestion."""
    loaded = _scenario(scenario, stickers)
    if work_dir is None:
        work_dir = Path(tempfile.mkdtemp(prefix="ikki-fleet-"))
    elif work_dir.exists() and any(work_dir.iterdir()):
        raise click.ClickException(
            f"the work folder {work_dir} is not empty: give a new or empty folder"
        )
    if report_path is not None and not report_path.resolve().parent.is_dir():
        raise click.ClickException(
            f"cannot write the report to {report_path}: its folder does not exist"
        )
    click.echo(f"work folder: {work_dir}")
    runner = Fleet(loaded, work_dir, database_url=database_url)

    def stop(signum: int, frame: object) -> None:
        # Unwind, so that the boards, Mosquitto and ingestion are stopped on the way out.
        raise SystemExit(f"stopped by signal {signum}")

    signal.signal(signal.SIGTERM, stop)
    try:
        report = runner.run(progress=click.echo)
    except (FleetError, MicroPythonMissing) as error:
        raise click.ClickException(str(error)) from error
    except sqlalchemy.exc.SQLAlchemyError as error:
        raise click.ClickException(
            f"cannot use the database {database_url or 'in the work folder'}: "
            f"{str(error).splitlines()[0]}; give an empty SQLite or PostgreSQL database"
        ) from error
    saved = work_dir / "report.json"
    write_report(report, saved)
    click.echo("")
    click.echo(format_report(report))
    click.echo(f"\nreport: {saved}")
    if report_path is not None:
        try:
            write_report(report, report_path)
        except OSError as error:
            click.echo(f"cannot write the report to {report_path}: {error.strerror}", err=True)
        else:
            click.echo(f"report: {report_path}")
    if not report["checks"]["ok"]:
        raise SystemExit(1)

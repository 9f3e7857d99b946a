"""``ikki collection``: run the ladder by hand."""

from __future__ import annotations


import click


@click.group()
def collection() -> None:
    """Run the collection ladder."""


@collection.command("run")
@click.option("--date", "run_date", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Brussels day to run, YYYY-MM-DD (default: today, after any missed day)")
def run(run_date) -> None:
    """Run the daily collection run: every overdue invoice moves up its ladder by at most one step."""
    from backend.collection.daily_run import run_day, run_due_days
    from backend.collection.interest import seed_published_rates
    from backend.core.db import get_engine, session_scope
    from backend.core.logging import configure_logging
    from backend.core.settings import get_settings

    settings = get_settings()
    configure_logging(settings.environment)
    engine = get_engine(settings.database_url)
    with session_scope(engine) as session:
        seed_published_rates(session)
    summaries = [run_day(engine, run_date.date())] if run_date else run_due_days(engine)
    for summary in summaries:
        steps = ", ".join(f"{step} {count}" for step, count in sorted(summary.steps.items())) or "-"
        click.echo(f"{summary.run_date.isoformat()}: {summary.evaluated} evaluated, {summary.sent} sent ({steps}), "
                   f"{summary.skipped} skipped, {summary.postponed} postponed")


__all__ = ["collection"]

"""All connected boards in parallel: one process per port, a live table, a summary and reports."""

from __future__ import annotations

import multiprocessing
import queue
import time
from pathlib import Path
from typing import Any

import structlog
from rich.console import Console
from rich.live import Live
from rich.table import Table

from provisioning import messages
from provisioning.report import write_reports
from provisioning.station import BoardResult, StationOptions, provision_board

log = structlog.get_logger(__name__)

STEP_CODES = {
    "waiting": "step_waiting", "identity": "step_identity", "flash": "step_flash",
    "self_test": "step_self_test", "register": "step_register", "label": "step_label",
    "done": "step_done",
}


def _worker(port: str, options: StationOptions, events: Any) -> None:
    def progress(step: str, info: dict[str, Any]) -> None:
        events.put(("step", port, step, info))

    try:
        result = provision_board(port, options, progress)
    # A bug on one board must not hide the other boards' results.
    except Exception as error:
        log.exception("station.board_crashed", port=port)
        result = BoardResult(port=port, status="error", reason=f"station bug: {error!r}")
    events.put(("result", port, result.as_dict(), {}))


def _table(rows: dict[str, dict[str, Any]], lang: str | None, started: float) -> Table:
    table = Table(title=messages.text("batch_title", lang, batch=rows and next(iter(rows.values()))["batch"]))
    for code in ("col_port", "col_device", "col_step", "col_result", "col_time"):
        table.add_column(messages.text(code, lang))
    for port, row in rows.items():
        result = row.get("result")
        if result is not None:
            status = messages.text(f"result_{result['status']}", lang)
            if result["identity"]:
                status += " · " + messages.text(f"identity_{result['identity']}", lang)
            if result["status"] == "rejected":
                status += f" ({result['reason']})"
            seconds = f"{result['seconds']:.1f}"
        else:
            status = ""
            seconds = f"{time.monotonic() - row['since']:.1f}"
        table.add_row(port, row.get("device_id", ""), messages.text(STEP_CODES[row["step"]], lang),
                      status, seconds)
    return table


def _result_line(result: BoardResult, lang: str | None) -> str:
    # What the station did to one board, in one line: the report's words.
    parts = [messages.text(f"result_{result.status}", lang)]
    if result.identity:
        parts.append(messages.text(f"identity_{result.identity}", lang))
    if result.reason:
        parts.append(result.reason)
    return f"{result.port}: {result.device_id or '-'} — " + ", ".join(parts)


def run_batch(ports: list[str], options: StationOptions, lang: str | None,
              console: Console | None = None) -> tuple[list[BoardResult], Path, Path]:
    """Provision every port in its own process; return the results and the CSV and HTML reports."""
    console = console or Console()
    context = multiprocessing.get_context("fork")
    events = context.Queue()
    started = time.monotonic()
    rows: dict[str, dict[str, Any]] = {
        port: {"step": "waiting", "since": started, "batch": options.batch} for port in ports
    }
    # Workers start before the live display, whose refresh thread a fork must not copy.
    processes = [context.Process(target=_worker, args=(port, options, events), name=f"station:{port}")
                 for port in ports]
    for process in processes:
        process.start()
    results: dict[str, BoardResult] = {}
    with Live(_table(rows, lang, started), console=console, refresh_per_second=4) as live:
        while len(results) < len(ports):
            try:
                kind, port, payload, info = events.get(timeout=0.25)
            except queue.Empty:
                if not any(process.is_alive() for process in processes) and events.empty():
                    break
                live.update(_table(rows, lang, started))
                continue
            if kind == "step":
                rows[port].update(step=payload, **{k: v for k, v in info.items() if v})
            else:
                rows[port]["result"] = payload
                rows[port]["step"] = "done"
                rows[port]["device_id"] = payload["device_id"]
                results[port] = BoardResult(**payload)
            live.update(_table(rows, lang, started))
    for process in processes:
        process.join(10)
    for port in ports:
        if port not in results:
            results[port] = BoardResult(port=port, status="error", reason="station process ended")
    ordered = [results[port] for port in ports]
    csv_path, html_path = write_reports(options.output_dir / "reports", options.batch, ordered,
                                        lang, options.station, options.operator)
    counts = {status: sum(1 for r in ordered if r.status == status)
              for status in ("passed", "rejected", "error")}
    console.print()
    for result in ordered:
        console.print(_result_line(result, lang), soft_wrap=True, highlight=False, markup=False)
    console.print(messages.text("summary", lang, passed=counts["passed"], rejected=counts["rejected"],
                                errors=counts["error"], seconds=time.monotonic() - started,
                                report=html_path), soft_wrap=True, highlight=False, markup=False)
    return ordered, csv_path, html_path

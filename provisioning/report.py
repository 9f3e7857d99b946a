"""The batch report: one CSV and one HTML file per batch."""

from __future__ import annotations

import csv
import html
from pathlib import Path

from provisioning import messages
from provisioning.station import BoardResult

CSV_FIELDS = ("port", "device_id", "claim_code", "status", "identity", "reason", "seconds",
              "registered", "tests", "label_pdf")


def _tests_text(result: BoardResult) -> str:
    return "; ".join(
        f"{test['name']}={'ok' if test['passed'] else 'FAIL'}"
        + (f" ({test['value']} {test['unit']})".rstrip() if test.get("value") is not None else "")
        for test in result.tests
    )


def write_reports(directory: Path, batch: str, results: list[BoardResult], lang: str | None,
                  station: str, operator: str) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    csv_path = directory / f"{batch}.csv"
    with csv_path.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for result in results:
            row = {name: getattr(result, name) for name in CSV_FIELDS if name != "tests"}
            row["tests"] = _tests_text(result)
            writer.writerow(row)

    def cell(value: object) -> str:
        return f"<td>{html.escape(str(value))}</td>"

    headers = [messages.text(code, lang) for code in
               ("col_port", "col_device", "col_result", "col_time")] + ["claim", "tests", ""]
    rows = []
    for result in results:
        status = messages.text(f"result_{result.status}", lang)
        identity = messages.text(f"identity_{result.identity}", lang) if result.identity else ""
        rows.append(
            f"<tr class=\"{html.escape(result.status)}\">" + cell(result.port) + cell(result.device_id)
            + cell(status) + cell(f"{result.seconds:.1f}") + cell(result.claim_code)
            + cell(_tests_text(result)) + cell(identity + (" — " + result.reason if result.reason else ""))
            + "</tr>"
        )
    title = html.escape(messages.text("batch_title", lang, batch=batch))
    lang_code = messages.language(lang)
    document = f"""<!doctype html>
<html lang="{lang_code}"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif}} td,th{{border:1px solid #999;padding:4px}}
table{{border-collapse:collapse}} .rejected,.error{{background:#fdd}} .passed{{background:#dfd}}</style>
</head><body><h1>{title}</h1><p>{html.escape(station)} — {html.escape(operator)}</p>
<table><tr>{''.join(f'<th>{html.escape(h)}</th>' for h in headers)}</tr>
{''.join(rows)}
</table></body></html>
"""
    html_path = directory / f"{batch}.html"
    html_path.write_text(document)
    return csv_path, html_path

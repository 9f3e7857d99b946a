"""The station end to end: real esptool, mpremote and pyserial against virtual boards on ptys,
registration with the web app served by uvicorn, and a freelancer claiming a sticker on the web."""

from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

import httpx
from sqlmodel import select

from backend.core.db import get_engine, session_scope
from backend.devices import service
from backend.devices.factory_models import FactoryRecord
from backend.devices.models import Device
from provisioning.repl import BoardRepl
from tests.conftest import free_port
from tests.provisioning.conftest import port_of

CSRF_PATTERN = re.compile(r'name="csrf_token" value="([^"]+)"')


def devices() -> list[Device]:
    with session_scope(get_engine()) as session:
        return list(session.exec(select(Device)).all())


def factory_records() -> list[FactoryRecord]:
    with session_scope(get_engine()) as session:
        return list(session.exec(select(FactoryRecord).order_by(FactoryRecord.id)).all())


def board_config(board) -> dict:
    with BoardRepl(port_of(board)) as repl:
        return repl.read_config()


def report_rows(tmp_path: Path) -> list[dict]:
    with (tmp_path / "station" / "reports" / "batch-test.csv").open() as stream:
        return list(csv.DictReader(stream))


def csrf_from(client: httpx.Client, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    return CSRF_PATTERN.search(page.text).group(1)


def test_batch_of_four_then_claim_on_web(boards, station, server, tmp_path):
    made = boards(4)

    result = station("provision", made)

    assert result.exit_code == 0, result.output
    assert "Passed: 4, rejected: 0, errors: 0" in result.output
    registered = {device.device_id: device for device in devices()}
    assert len(registered) == 4
    records = factory_records()
    assert [record.status for record in records] == ["passed"] * 4
    assert all(record.operator == "op-7" and record.station == "station-test" for record in records)
    assert all(record.hardware_revision == "A" and record.firmware_version for record in records)
    assert all(len(record.tests) == 5 for record in records)
    rows = report_rows(tmp_path)
    assert sorted(row["device_id"] for row in rows) == sorted(registered)
    assert (tmp_path / "station" / "reports" / "batch-test.html").exists()
    for device_id in registered:
        assert (tmp_path / "station" / "labels" / f"{device_id}.png").exists()
        assert (tmp_path / "station" / "labels" / f"{device_id}.pdf").read_bytes().startswith(b"%PDF")
    on_board = board_config(made[0])
    device = registered[on_board["device_id"]]
    assert service.device_key(device).hex() == on_board["key"]

    with httpx.Client(base_url=server.url, headers={"accept": "text/html"}) as browser:
        signed_up = browser.post("/signup", data={
            "email": "lien@example.be", "name": "Lien Verbeke", "password": "a-long-password",
            "csrf_token": csrf_from(browser, "/signup"),
        })
        assert signed_up.status_code in (200, 303), signed_up.text
        claimed = browser.post("/stickers/claim", data={
            "claim_code": on_board["claim_code"], "csrf_token": csrf_from(browser, "/stickers"),
        })
        assert claimed.status_code in (200, 303), claimed.text
        page = browser.get("/stickers")
    assert on_board["device_id"] in page.text
    with session_scope(get_engine()) as session:
        assert session.get(Device, on_board["device_id"]).owner_id is not None


def test_rerun_keeps_identity(boards, station, tmp_path):
    board, = boards(1)
    first = station("provision", [board])
    assert first.exit_code == 0, first.output
    identity = board_config(board)

    again = station("provision", [board])

    assert again.exit_code == 0, again.output
    assert "identity kept" in again.output
    assert board_config(board)["key"] == identity["key"]
    assert [device.device_id for device in devices()] == [identity["device_id"]]
    assert [record.identity for record in factory_records()] == ["new", "kept"]
    assert report_rows(tmp_path)[0]["identity"] == "kept"


def test_rerun_keeps_sequence_numbers(boards, station):
    board, = boards(1)
    assert station("provision", [board]).exit_code == 0
    with BoardRepl(port_of(board)) as repl:
        used = repl.evaluate("[__import__('seqno').SequenceStore().next() for _ in range(3)][-1]")

    assert station("provision", [board]).exit_code == 0

    with BoardRepl(port_of(board)) as repl:
        assert repl.evaluate("__import__('seqno').SequenceStore().next()") > used


def test_rotate_key_keeps_id_and_claim_code(boards, station):
    board, = boards(1)
    assert station("provision", [board]).exit_code == 0
    before = board_config(board)

    rotated = station("rotate-key", [board])

    assert rotated.exit_code == 0, rotated.output
    assert "key rotated" in rotated.output
    after = board_config(board)
    assert after["device_id"] == before["device_id"]
    assert after["claim_code"] == before["claim_code"]
    assert after["key"] != before["key"]
    device, = devices()
    assert service.device_key(device).hex() == after["key"]


def test_failed_self_test_rejects_board(boards, station, tmp_path):
    board, = boards(1)
    board.board.set_battery(3000)

    result = station("provision", [board])

    assert result.exit_code == 1
    assert "reject box" in result.output
    assert devices() == []
    record, = factory_records()
    assert record.status == "rejected"
    assert "battery" in record.reason
    labels = tmp_path / "station" / "labels"
    assert not labels.exists() or not list(labels.iterdir())


def test_no_board(station):
    result = station("provision", [])

    assert result.exit_code == 1
    assert result.output.startswith("ikki: No board found.")
    assert devices() == []


def test_port_missing(station, tmp_path, standin_image, server, factory_broker):
    from click.testing import CliRunner

    from backend.cli import main

    result = CliRunner().invoke(main, [
        "station", "provision", "--port", str(tmp_path / "nowhere" / "tty"), "--image", str(standin_image),
        "--server", server.url, "--token", "x", "--operator", "op", "--mqtt-host", "127.0.0.1",
        "--factory-broker", f"127.0.0.1:{factory_broker.port}", "--output", str(tmp_path / "out"),
    ])

    assert result.exit_code == 1
    assert "ikki: Port" in result.output
    assert "does not exist" in result.output
    assert devices() == []


def test_wrong_chip(boards, station):
    board, = boards(1, chip="esp32")

    result = station("provision", [board])

    assert result.exit_code == 1
    assert "ikki: The board on" in result.output
    assert "ESP32 chip, not an ESP32-S3" in result.output
    assert devices() == []
    assert factory_records() == []


def test_image_checksum_mismatch(boards, station, standin_image, tmp_path):
    board, = boards(1)
    damaged = tmp_path / "damaged.bin"
    shutil.copyfile(standin_image, damaged)
    shutil.copyfile(standin_image.with_name(standin_image.name + ".sha256"),
                    damaged.with_name("damaged.bin.sha256"))
    with damaged.open("r+b") as stream:
        stream.seek(1000)
        stream.write(b"\x00")

    result = station("provision", [board], image=damaged)

    assert result.exit_code == 1
    assert "ikki: The image" in result.output
    assert "nothing was written" in result.output
    assert devices() == []
    assert board.mode == "no_firmware"


def test_flash_write_failure(boards, station):
    board, = boards(1)
    board.set_faults("flash_write")

    result = station("provision", [board])

    assert result.exit_code == 1
    assert "ikki: Writing the flash" in result.output
    assert devices() == []
    assert factory_records() == []


def test_repl_not_answering(boards, station):
    board, = boards(1)
    board.set_faults("repl_silent")

    result = station("provision", [board])

    assert result.exit_code == 1
    assert "does not answer at the MicroPython prompt" in result.output
    assert devices() == []
    assert factory_records() == []


def test_backend_unreachable_then_recovered(boards, station):
    board, = boards(1)

    result = station("provision", [board], server_url=f"http://127.0.0.1:{free_port()}")

    assert result.exit_code == 1
    assert "cannot be reached" in result.output
    assert devices() == []
    kept = board_config(board)

    again = station("provision", [board])

    assert again.exit_code == 0, again.output
    assert [device.device_id for device in devices()] == [kept["device_id"]]


def test_duplicate_device_id(boards, station):
    board, = boards(1)
    assert station("provision", [board]).exit_code == 0
    device_id = board_config(board)["device_id"]
    with session_scope(get_engine()) as session:
        # Another board was registered under the same id with another key.
        device = session.get(Device, device_id)
        device.key_encrypted = service.encrypt_key(b"\x01" * 32)
        session.add(device)

    result = station("provision", [board])

    assert result.exit_code == 1
    assert f"ikki: The device id {device_id} is already registered" in result.output
    device, = devices()
    assert service.device_key(device) == b"\x01" * 32
    assert len(factory_records()) == 1


def test_messages_follow_operator_language(tmp_path):
    from click.testing import CliRunner

    from backend.cli import main

    missing = str(tmp_path / "nowhere")
    for lang, start in (("fr", "ikki: Le port"), ("nl", "ikki: Poort"), ("en", "ikki: Port")):
        result = CliRunner().invoke(main, ["station", "--lang", lang, "detect", "--port", missing])

        assert result.exit_code == 1
        assert result.output.startswith(start), result.output


def test_detect_chip(boards):
    from click.testing import CliRunner

    from backend.cli import main

    board, = boards(1)

    detected = CliRunner().invoke(main, ["station", "detect", "--port", port_of(board)])

    assert detected.exit_code == 0, detected.output
    assert detected.output.strip().endswith("ESP32-S3")


def test_copy_to_development_board(boards, station, tmp_path):
    import json

    from click.testing import CliRunner

    from backend.cli import main

    board, = boards(1)
    assert station("provision", [board]).exit_code == 0
    config = dict(board_config(board), arm_delay_s=5)
    config_path = tmp_path / "dev.json"
    config_path.write_text(json.dumps(config))
    with BoardRepl(port_of(board)) as repl:
        repl.run("import os\nos.remove('app.mpy')")
    removed = board.flash_image.files()

    copied = CliRunner().invoke(main, ["station", "copy", "--port", port_of(board),
                                       "--config", str(config_path)])

    assert copied.exit_code == 0, copied.output
    # The files are in the littlefs partition of the board's flash.bin.
    assert "app.mpy" not in removed
    assert "app.mpy" in board.flash_image.files()
    assert "boards/esp32s3_ref.mpy" in board.flash_image.files()
    assert board_config(board)["arm_delay_s"] == 5

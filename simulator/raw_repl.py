# MicroPython REPL of the virtual board, run by the MicroPython unix port
# behind the board's serial line (simulator/serial_port.py).
#
# It speaks the REPL protocol of the MicroPython ports (shared/runtime/pyexec.c
# in MicroPython 1.2x), which the unix port's own REPL lacks:
#   Ctrl-A        raw REPL: "raw REPL; CTRL-B to exit\r\n>"
#   Ctrl-D        in raw REPL: execute; replies "OK", output, 0x04, error, 0x04
#   Ctrl-D        on an empty line: soft reset
#   Ctrl-E A Ctrl-A  raw-paste mode with a flow-control window
#   Ctrl-B        back to the friendly REPL
#   Ctrl-C        the serial supervisor sends SIGINT (KeyboardInterrupt) and
#                 forwards the byte, which clears the line being typed
#
# Environment: IKKI_REPL_MODE ("friendly" or "raw") and IKKI_REPL_RUN_MAIN
# ("1": run main.py first, as after a reset). With VBOARD_FLASH_IMAGE set,
# the board's littlefs partition is mounted first and becomes the working
# directory (simulator/hardware/_flash.py). The process ends with
# EXIT_SOFT_RESET_RAW or EXIT_SOFT_RESET_FRIENDLY for a soft reset; the
# supervisor starts it again in that mode.
import io
import os
import sys

EXIT_SOFT_RESET_RAW = 89
EXIT_SOFT_RESET_FRIENDLY = 90
RAW_PASTE_WINDOW = 256
BANNER = b"MicroPython (unix port) on Ikki virtual board with ESP32S3\r\nType \"help()\" for more information.\r\n"

# The script's own folder comes first on sys.path; the board's flash (the
# working directory) takes its place, as on the device.
sys.path[0] = ""
if os.getenv("VBOARD_FLASH_IMAGE"):
    import _flash

    _flash.mount()

_stdin = sys.stdin.buffer
_stdout = sys.stdout.buffer



def announce_ready():
    # The supervisor sends SIGINT for Ctrl-C only once this file names this
    # process, because a SIGINT before the handler exists would kill it.
    with open("/proc/self/stat") as stat:
        pid = stat.read().split()[0]
    with open(os.getenv("VBOARD_DIR") + "/repl.pid", "w") as stream:
        stream.write(pid)


def write(data):
    _stdout.write(data)


def read_byte():
    data = _stdin.read(1)
    if not data:
        # The supervisor closed the line: power off.
        sys.exit(0)
    return data[0]


def execute(code, scope):
    # Run code as the raw REPL does: output, 0x04, error text, 0x04.
    try:
        exec(code, scope)  # noqa: S102 - a REPL runs the code the host sends
        write(b"\x04\x04")
    except SystemExit:
        raise
    except BaseException as error:  # noqa: BLE001 - every error goes back to the host
        text = io.StringIO()
        sys.print_exception(error, text)
        write(b"\x04")
        write(text.getvalue().replace("\n", "\r\n").encode())
        write(b"\x04")


def read_raw_paste():
    # Flow control: one 0x01 each time the host may send another window.
    write(b"R\x01")
    write(bytes((RAW_PASTE_WINDOW & 0xFF, RAW_PASTE_WINDOW >> 8, 1)))
    code = bytearray()
    received = 0
    while True:
        byte = read_byte()
        if byte == 0x04:
            write(b"\x04")
            return bytes(code)
        code.append(byte)
        received += 1
        if received == RAW_PASTE_WINDOW:
            received = 0
            write(b"\x01")


def raw_repl(scope):
    # Return the next mode after Ctrl-B, or exit for a soft reset.
    write(b"raw REPL; CTRL-B to exit\r\n")
    while True:
        write(b">")
        line = bytearray()
        while True:
            try:
                byte = read_byte()
            except KeyboardInterrupt:
                byte = 0x03
            if byte == 0x01:
                if line == b"\x05A":
                    execute(read_raw_paste(), scope)
                    break
                write(b"raw REPL; CTRL-B to exit\r\n>")
                line = bytearray()
            elif byte == 0x02:
                write(b"\r\n")
                return "friendly"
            elif byte == 0x03:
                line = bytearray()
            elif byte == 0x04:
                write(b"OK")
                if not line:
                    write(b"\r\n")
                    soft_reset(EXIT_SOFT_RESET_RAW)
                execute(bytes(line), scope)
                break
            else:
                line.append(byte)


def friendly_repl(scope):
    write(BANNER)
    while True:
        write(b">>> ")
        line = bytearray()
        while True:
            try:
                byte = read_byte()
            except KeyboardInterrupt:
                byte = 0x03
            if byte == 0x01:
                write(b"\r\n")
                return "raw"
            if byte == 0x03:
                write(b"\r\nKeyboardInterrupt\r\n")
                break
            if byte == 0x04 and not line:
                write(b"\r\n")
                soft_reset(EXIT_SOFT_RESET_FRIENDLY)
            if byte in (0x0D, 0x0A):
                write(b"\r\n")
                if line:
                    run_line(bytes(line).decode(), scope)
                break
            if byte in (0x08, 0x7F):
                if line:
                    line = line[:-1]
                    write(b"\x08 \x08")
                continue
            if byte >= 0x20:
                line.append(byte)
                write(bytes((byte,)))


def run_line(source, scope):
    try:
        try:
            value = eval(source, scope)
        except SyntaxError:
            exec(source, scope)  # noqa: S102 - a REPL runs the code the host sends
            return
        if value is not None:
            write(repr(value).replace("\n", "\r\n").encode() + b"\r\n")
    except SystemExit:
        raise
    except BaseException as error:  # noqa: BLE001 - shown to the operator
        text = io.StringIO()
        sys.print_exception(error, text)
        write(text.getvalue().replace("\n", "\r\n").encode())


def soft_reset(status):
    write(b"MPY: soft reboot\r\n")
    sys.exit(status)


def run_main():
    try:
        os.stat("main.py")
    except OSError:
        return
    with open("main.py") as stream:
        source = stream.read()
    try:
        exec(source, {"__name__": "__main__"})  # noqa: S102 - the firmware's own main.py
    except SystemExit:
        raise
    except BaseException as error:  # noqa: BLE001 - a crash of main.py ends at the REPL, as on the device
        text = io.StringIO()
        sys.print_exception(error, text)
        write(text.getvalue().replace("\n", "\r\n").encode())


def main():
    mode = os.getenv("IKKI_REPL_MODE") or "friendly"
    main_pending = os.getenv("IKKI_REPL_RUN_MAIN") == "1"
    scope = {"__name__": "__main__"}
    announced = False
    # Every step sits inside this loop, so a Ctrl-C (SIGINT) that lands
    # between two of them restarts the prompt instead of ending the process.
    while True:
        try:
            if not announced:
                announced = True
                announce_ready()
            if main_pending:
                main_pending = False
                run_main()
            if mode == "raw":
                mode = raw_repl(scope)
            else:
                mode = friendly_repl(scope)
        except KeyboardInterrupt:
            pass


main()

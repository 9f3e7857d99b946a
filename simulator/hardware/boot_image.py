# Boot script of a virtual board whose flash is a littlefs image: mount the
# image at /flash, apply the flash-full fault, then run the firmware's
# main.py from littlefs, as the ESP32 port runs main.py from its flash after
# every reset. The supervisor (simulator/vboard.py) runs this script in
# place of main.py.
import _flash

_flash.mount()
_flash.apply_fault()
try:
    with open("main.py") as stream:
        source = stream.read()
except OSError:
    # No main.py: the device stays at its REPL.
    source = None
if source is not None:
    exec(compile(source, "main.py", "exec"), {"__name__": "__main__"})  # noqa: S102 - the firmware's own main.py

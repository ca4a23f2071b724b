"""``python -m datawheel`` — the same CLI as the ``datawheel`` command (and torchrun's entry)."""

from datawheel.cli.main import run

if __name__ == "__main__":
    run()

"""``python -m datawheel`` — the same CLI as the ``datawheel`` command (and torchrun's entry)."""

from datawheel.cli.main import main

if __name__ == "__main__":
    main()

"""Layer 6: the command line — one module per subsystem, each a thin layer over library calls."""

"""The web console for customers (keys, usage, playground) and operators (models, the loop,
monitoring, feedback, audit), mounted by ``datawheel serve`` at ``/console``."""

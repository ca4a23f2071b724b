"""Layer 6: the project — its pipeline, evaluation, status, scaffold, demo and the app factory."""

"""Layer 4: model versions and their stages, candidate training, export of a version."""

"""Layer 0: self-contained HTML pages and inline-SVG plots, shared by every report.

Nothing here imports datawheel, so any layer may render a page: the data quality report,
the model card, the demo report.
"""

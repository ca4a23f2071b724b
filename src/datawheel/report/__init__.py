"""Layer 0: self-contained HTML pages, inline-SVG plots and the fonts that draw Chinese in
both, shared by every report.

Nothing here imports datawheel outside this package but ``i18n`` (layer 0 too: labels go out
in the interface language), so any layer may render a page: the data quality report, the model
card, the demo report.
"""

"""Images and audio in a table: decoding, checking, deduplication, augmentation and privacy.

Import the submodules (``datawheel.data.media.decode`` …); this package imports nothing heavy, so
``datawheel`` stays light for tabular projects.
"""

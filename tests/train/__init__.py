"""Tests of datawheel.train."""

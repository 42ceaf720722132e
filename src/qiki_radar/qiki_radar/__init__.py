"""QIKI two-band radar model and multi-target tracker."""

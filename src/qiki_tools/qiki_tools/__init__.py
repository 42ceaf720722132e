"""QIKI tools on a running or recorded graph: console, plots, replay regression, soak."""

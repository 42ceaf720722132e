"""QIKI digital twin: vehicle physics, world truth and the simulated clock."""

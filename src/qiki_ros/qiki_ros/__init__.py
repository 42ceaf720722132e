"""ROS shell shared by the QIKI nodes (no algorithms here)."""

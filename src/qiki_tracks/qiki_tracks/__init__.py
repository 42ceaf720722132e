"""Track data shared by the tracker, the agent, the scorer, the observer and the tools (no rclpy)."""

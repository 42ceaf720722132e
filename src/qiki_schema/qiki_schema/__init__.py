"""Validated YAML files without ROS: strict pydantic bases, vector types, one-line load errors."""

"""Vehicle descriptions (ROS's `<robot>_description`): one YAML per vehicle type, its schema and loader.
The sim, the radar and the agent read these numbers; nobody else defines them."""

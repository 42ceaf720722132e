"""Geometry shared by the simulator, the radar and the flight software, without ROS: angles, Earth
constants, orbit elements, the LVLH frame and the bound every state value must respect."""

"""Geometry shared by the simulator, the radar and the flight software, without ROS: angles, quaternions, Earth
constants, orbit elements, the LVLH frame and the bound every state value must respect."""

"""The Earth's constants (WGS-84 / EGM-96), written once."""

MU = 3.986004418e14   # gravitational parameter [m^3/s^2]
R_E = 6378137.0       # equatorial radius [m]
J2 = 1.08262668e-3    # second zonal harmonic

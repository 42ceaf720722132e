"""QIKI bringup: graph description, launch files, parameters and the qiki command line."""

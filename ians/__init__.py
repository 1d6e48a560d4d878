"""IANS: simulator, exercise runner and consultation tool for the UNECE IAN System."""

__version__ = "0.1.0"

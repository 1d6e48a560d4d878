"""Acknowledgement-time reports (SPEC §10), derived from stored facts only."""

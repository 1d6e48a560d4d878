"""Scenarios (SPEC §6, §8): drills, connectivity tests and consultations, their schemas,
and the loader that checks a scenario file against the registry, naming file, line and field."""

"""Pure models and rules of the IAN System: no I/O."""

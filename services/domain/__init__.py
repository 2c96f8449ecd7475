"""Domain rules and reference data for POR validation."""

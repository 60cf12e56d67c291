"""samrs_mm.models."""

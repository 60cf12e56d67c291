"""samrs_mm.engine."""

"""samrs_mm.sources."""

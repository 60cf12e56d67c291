"""samrs_mm.annotate."""

"""samrs_mm.evaluation."""

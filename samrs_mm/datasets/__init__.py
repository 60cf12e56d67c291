"""samrs_mm.datasets."""

"""samrs_mm.models.decode_heads."""

"""samrs_mm.models.backbones."""

"""whoknows web."""

"""whoknows search."""

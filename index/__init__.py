"""whoknows index."""

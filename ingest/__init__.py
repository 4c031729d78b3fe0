"""whoknows ingest."""

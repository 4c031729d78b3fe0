"""Retrieval evaluation on BEIR-format folders (``whoknows eval``)."""

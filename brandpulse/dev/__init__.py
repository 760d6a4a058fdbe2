"""Developer tools (not imported by the DAGs or the pipeline at run time)."""

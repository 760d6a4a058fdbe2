"""The pipeline steps: the only modules that join sources, storage, models and
alerts (ingest, enrich, topics, alert check, maintenance)."""

"""Elasticsearch: versioned index templates, aliases, the bulk writer, the
quarantine, listener cursors and the queries the CLI and demo print."""

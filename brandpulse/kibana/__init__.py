"""Kibana dashboards as saved objects (generated, committed as ndjson) and their import."""

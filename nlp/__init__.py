"""Enrichment: language id, sentiment, topics and emotion for brand mentions.

Models load once per process and run over length-sorted batches. Everything
here is plain Python, callable without Airflow (CLI, DAG tasks, notebooks).
"""

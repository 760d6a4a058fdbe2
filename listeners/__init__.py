"""Connectors that turn a platform's API (or a file) into Mention records.

NB: these are *not* Airflow "listener" plugins (airflow.listeners); the name
means "social listening". Every connector implements `listeners.base.Connector`
and is registered by name in `listeners.registry`.
"""

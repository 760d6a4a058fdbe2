"""Analyst queries over the mention index: search, export, stats and the HTML report."""

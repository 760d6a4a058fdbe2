"""The `brandpulse` command line: one typer app (`app.py`) and its command groups."""

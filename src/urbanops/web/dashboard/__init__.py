"""The city dashboard at ``/``: static files that read only the public API (docs/dashboard.md)."""

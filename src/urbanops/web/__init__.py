"""Web pages served by ``urbanops serve``: the dashboard (and, under domains, their widgets)."""

"""Administration: the admin JSON API (and, later, the console)."""

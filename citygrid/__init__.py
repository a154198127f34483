"""Composition root: settings, connection pool, migrations, CLI and demo."""

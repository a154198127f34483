"""What every layer shares and nothing else: the domain errors (core ← gis ← events ← dispatch ← web ← citygrid)."""

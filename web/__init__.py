"""The HTTP edge: the FastAPI app, its JSON API and the map. The only package that imports FastAPI."""

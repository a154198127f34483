"""The kinds of file cases are exported as, apart from the export itself (which imports geopandas and openpyxl),
so that the web layer states them without loading those when a server process starts."""

FORMATS = {".csv": "csv", ".geojson": "geojson", ".json": "geojson", ".gpkg": "gpkg", ".xlsx": "xlsx"}
EXTENSIONS = {"csv": ".csv", "geojson": ".geojson", "gpkg": ".gpkg", "xlsx": ".xlsx"}

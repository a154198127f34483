"""Open311 GeoReport v2 under /open311/v2/: other systems (12345 hotlines, apps, sensors) report and read here.

`clients` holds the API keys of client systems, `repo` the SQL, `formats` the JSON/XML rendering and the
spec's error format, `routes` the endpoints. Policy and field mapping: docs/open311.md.
"""

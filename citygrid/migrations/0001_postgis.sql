-- PostGIS for geometry; everything is stored in EPSG:4326 (WGS84, equal to CGCS2000 at this scale).
CREATE EXTENSION IF NOT EXISTS postgis;

"""Geometry, grid layers, responsibility zones and the locator."""

"""Intake, routing, deadlines and the case workflow."""

"""Operator drills: each module is one drill (TITLE, run); python -m tests.drills runs them all."""

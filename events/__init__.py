"""Reports, cases, categories and case history."""

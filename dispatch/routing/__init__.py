"""Who handles what: departments, routing rules as data, the choice for a case, the stored decision, and rules mined from history."""

"""Reports in: a report becomes a located, registered, routed and dispatched case in one transaction, with the per-process reference cache."""

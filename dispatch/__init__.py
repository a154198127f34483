"""The city's work, by capability: intake/ (reports in), exchange/ (files in and out), reporting/ (what leaders
read), casework/ (the closed loop), routing/ (who handles what); beside them the actor and its scope, the
permission table, accounts and API clients, roles and plain models, and the worker's tick (docs/design.md)."""

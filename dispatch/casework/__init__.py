"""The closed loop of a case: the workflow table, the actions, their SQL, deadlines on the working calendar, who hears of each step and the worker's escalations."""

"""Time in the centre's terms: working calendars, deadlines and what happens when they pass."""

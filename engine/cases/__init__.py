"""Running a case: starting it, completing its steps, and storing its workflow."""

"""Request plumbing shared by every page: the unit of work, guards, errors and serving."""

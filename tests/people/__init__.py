"""People and their roster: the organisation, roster files, text people type."""

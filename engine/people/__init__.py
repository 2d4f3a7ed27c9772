"""The organisation: people, roles, the roster, and how people prove who they are."""

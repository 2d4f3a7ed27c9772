"""Who may do and see what on the web: sign-in, sessions, the role × case matrix, bad input."""

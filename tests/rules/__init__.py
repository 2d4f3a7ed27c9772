"""The centre's rules (SPEC.md C, L, S, Q, A ids) proven through the processes that carry them."""

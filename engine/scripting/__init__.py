"""The restricted Python that process scripts and expressions run in, and its limits."""

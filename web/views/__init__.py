"""The blueprints: one module per part of the site, each a thin page over the engine."""

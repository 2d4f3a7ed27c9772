"""Process files as process owners write them: deploying, other modelers' idioms, the
script sandbox."""

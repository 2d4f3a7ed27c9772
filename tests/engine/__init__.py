"""The engine's own machinery: storage, migrations, caches, workers, history and the
command line."""

"""The demo centre that `kefu init --demo` loads: its organisation file and its roster."""

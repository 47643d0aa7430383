"""Where studies live: Optuna storages, the study lock, and the embedded SQLite files."""

"""What a sweep records and shows: MLflow runs, the leaderboard, the report, the UI."""

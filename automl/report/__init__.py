"""Reports: leaderboards (more to come: plots, HTML report)."""

from automl.report.leaderboard import leaderboard_rows
from automl.report.leaderboard import to_csv
from automl.report.leaderboard import to_json

__all__ = ["leaderboard_rows", "to_csv", "to_json"]

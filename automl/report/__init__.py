"""Reports: leaderboards and trial tables (more to come: plots, HTML report)."""

from automl.report.leaderboard import leaderboard_rows
from automl.report.leaderboard import to_csv
from automl.report.leaderboard import to_json
from automl.report.leaderboard import to_markdown
from automl.report.trials import load_trials
from automl.report.trials import trials_dataframe

__all__ = ["leaderboard_rows", "load_trials", "to_csv", "to_json", "to_markdown",
           "trials_dataframe"]

"""The KPI page's charts: an unknown cost is shown as unknown, never as $0."""

from bot.dashboard.charts import cost_chart
from bot.runs.models import RunState
from bot.runs.views import WeeklyRuns


def week(week: int, cost: float, unknown: int) -> WeeklyRuns:
    return WeeklyRuns(
        repository="octo/stats",
        week=week,
        state=RunState.SUCCEEDED,
        runs=3,
        cost_usd=cost,
        unknown_cost=unknown,
    )


def test_a_week_of_unknown_cost_says_so() -> None:
    svg = str(cost_chart([week(2900, 0.0, 3), week(2901, 0.5, 0)], [2900, 2901]))
    assert "$0.0000 + 3 run(s) of unknown cost" in svg
    assert "$0.5000</title>" in svg

"""Charts as inline SVG, drawn on the server from numbers only (no script, no text from a
record): runs per week stacked by how they ended, and the model's cost per week."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable

from markupsafe import Markup

from bot.runs.models import RunState
from bot.runs.views import WEEK_SECONDS, WeeklyRuns

COLORS: dict[RunState, str] = {
    RunState.SUCCEEDED: "#2da44e",
    RunState.AWAITING_APPROVAL: "#bf8700",
    RunState.ESCALATED: "#8250df",
    RunState.FAILED: "#cf222e",
    RunState.CANCELLED: "#8c959f",
    RunState.RUNNING: "#0969da",
    RunState.QUEUED: "#54aeff",
}
WIDTH, HEIGHT, LEFT, BOTTOM = 640, 180, 40, 24


def week_label(week: int) -> str:
    return time.strftime("%m-%d", time.gmtime(week * WEEK_SECONDS))


def weeks_between(first: int, last: int) -> list[int]:
    return list(range(first, last + 1))


def runs_chart(rows: Iterable[WeeklyRuns], weeks: list[int]) -> Markup:
    """Stacked bars: per week, the runs in each state."""
    counts: dict[int, dict[RunState, int]] = defaultdict(dict)
    for row in rows:
        counts[row.week][row.state] = counts[row.week].get(row.state, 0) + row.runs
    top = max([sum(by_state.values()) for by_state in counts.values()] or [1])
    bars = []
    for x, width, week in _slots(weeks):
        y = float(HEIGHT - BOTTOM)
        for state, color in COLORS.items():
            runs = counts.get(week, {}).get(state, 0)
            if runs:
                height = runs / top * (HEIGHT - BOTTOM - 10)
                y -= height
                bars.append(
                    f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{height:.1f}" '
                    f'fill="{color}"><title>{week_label(week)}: {runs} {state.value}</title></rect>'
                )
    return _svg(bars, weeks, f"{top} runs")


def cost_chart(rows: Iterable[WeeklyRuns], weeks: list[int]) -> Markup:
    """Bars: per week, the model's known cost in US dollars; a week with runs of unknown
    cost says so (its bar is then a lower bound, or none at all), never $0."""
    cost: dict[int, float] = defaultdict(float)
    unknown: dict[int, int] = defaultdict(int)
    for row in rows:
        cost[row.week] += row.cost_usd
        unknown[row.week] += row.unknown_cost
    top = max([*cost.values(), 0.0]) or 1.0
    bars = []
    for x, width, week in _slots(weeks):
        height = cost.get(week, 0.0) / top * (HEIGHT - BOTTOM - 10)
        known = f"${cost.get(week, 0.0):.4f}"
        if unknown.get(week):
            known = f"{known} + {unknown[week]} run(s) of unknown cost"
            bars.append(  # a hatched mark: the week's cost is not known in full
                f'<rect x="{x:.1f}" y="{HEIGHT - BOTTOM - height - 6:.1f}" width="{width:.1f}" '
                f'height="6" fill="#d0d7de"><title>{week_label(week)}: {known}</title></rect>'
            )
        bars.append(
            f'<rect x="{x:.1f}" y="{HEIGHT - BOTTOM - height:.1f}" width="{width:.1f}" '
            f'height="{height:.1f}" fill="#0969da"><title>{week_label(week)}: '
            f"{known}</title></rect>"
        )
    return _svg(bars, weeks, f"${top:.2f}")


def _slots(weeks: list[int]) -> list[tuple[float, float, int]]:
    step = (WIDTH - LEFT - 10) / max(len(weeks), 1)
    return [(LEFT + index * step + 2, max(step - 4, 1), week) for index, week in enumerate(weeks)]


def _svg(bars: list[str], weeks: list[int], top_label: str) -> Markup:
    labels = []
    every = max(1, len(weeks) // 8)
    for index, (x, width, week) in enumerate(_slots(weeks)):
        if index % every == 0:
            labels.append(
                f'<text x="{x + width / 2:.1f}" y="{HEIGHT - 8}" font-size="10" '
                f'text-anchor="middle">{week_label(week)}</text>'
            )
    axis = (
        f'<line x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH - 10}" y2="{HEIGHT - BOTTOM}" '
        'stroke="#8c959f"/>'
        f'<text x="2" y="14" font-size="10">{top_label}</text>'
    )
    body = "".join([axis, *bars, *labels])
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img">{body}</svg>'
    )

"""What the bot did and what it is worth: KPIs over recorded runs and pull request outcomes
(`compute.py`, defined in docs/kpis.md), the governance views (`governance.py`), their
renderings (`render.py`) and `patchbot report`, `audit` and `outcomes` (`cli.py`)."""

"""What leaders read: the evaluation (综合评价), the dashboard, the map's views and the rollups behind them."""

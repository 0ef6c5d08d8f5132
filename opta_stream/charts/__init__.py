"""Chart building: Vega-Lite structure compiled once per shape, data per tick.

Pure (Altair and pandas, no Streamlit): a chart is a ``plans.ChartPlan`` whose
structure is cached and whose DataFrames change each tick.
"""

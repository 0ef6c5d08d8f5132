"""Pure figures: tokens/s, request totals and quantiles, windows, ages, usage per day.

The numbers a page shows are computed here, once each, from a snapshot; every
page (and the alerts) calls the same function for the same figure. No I/O, no
Streamlit, no Altair.
"""

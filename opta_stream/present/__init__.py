"""Pure presentation: snapshot → DataFrames, Vega-Lite specs, CSV bytes and page wording.

No I/O and no Streamlit: everything here is unit-testable from a plain script.
"""

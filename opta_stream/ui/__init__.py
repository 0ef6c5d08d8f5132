"""The only library code that imports Streamlit: shared resources, session, routing, widgets."""

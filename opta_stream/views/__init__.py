"""Page views: a typed spec and one snapshot in, a recording of elements out.

``build(spec, snapshot)`` is pure: it never sees a Store, a feed or Streamlit,
so two viewers with the same spec get the same recording, and tests run the
views without an app.
"""

"""CSV bytes and file names for what the pages show (standard ``csv`` module). Pure.
"""

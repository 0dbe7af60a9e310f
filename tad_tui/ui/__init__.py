"""The full-screen terminal interface: the only package that imports Textual."""

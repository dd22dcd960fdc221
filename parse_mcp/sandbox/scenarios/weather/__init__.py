"""Weather: a marketplace canonical and its personal copy, and the forecast pages they read."""

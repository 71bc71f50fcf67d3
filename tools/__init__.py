"""Developer tools: the generator of the Tracker's track_* methods."""

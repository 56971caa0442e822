"""The tactical assessment: maps, charts and tables assembled into an HTML and PDF briefing."""

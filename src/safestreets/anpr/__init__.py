"""ANPR: reads and cameras, hotlists and alerts, journeys, county-lines and co-travel patterns, retention."""

"""Geography: projection to the workspace CRS, and assigning points to areas."""

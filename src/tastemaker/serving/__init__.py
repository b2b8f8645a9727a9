"""The read path: placements, pipeline stages (sources, merge, filters, ranking), responses."""

"""Adoption sources: model hubs whose listings give downloads, likes and lineage."""

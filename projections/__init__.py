"""trueup.projections."""

"""trueup.domain."""

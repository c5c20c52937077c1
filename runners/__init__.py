"""trueup.runners."""

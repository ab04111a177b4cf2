"""Every figure of the toolkit, grouped by the study that makes it."""

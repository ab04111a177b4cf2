"""Figures of the toolkit: functions take arrays or tables and return a matplotlib Figure."""

"""Studies: read data from disk, run the estimators, write tables and figures."""

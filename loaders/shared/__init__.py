"""What every source shares: the dlt pipeline and its load package, the warehouse and its locks, errors, types, the run's report."""

"""The lab: matrix files, cell execution here or on a cluster, results, history, reports."""

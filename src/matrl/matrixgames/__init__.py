"""matrixgames."""

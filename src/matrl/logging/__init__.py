"""What a run leaves behind for people and tools: metrics CSV, TensorBoard events, package versions."""

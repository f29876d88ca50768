"""Learners for deep MATRL: per-agent networks evaluated in one batched call, PPO losses, GAE."""

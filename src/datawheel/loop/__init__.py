"""Layer 5 (offline half): feedback analytics, policy, retraining, gating. Never imports serve."""

"""Layer 2: transforms on frames — schema, cleaning, rules, normalization, augmentation, dedup."""

"""Layer 2: PII detection, anonymization operators, k-anonymity, and erasure."""

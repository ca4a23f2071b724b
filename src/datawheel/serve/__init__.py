"""Layer 5 (online half): the HTTP API, auth, quotas, metering. Never imports loop."""

"""Platform adapters: one small, mostly data-driven file per platform."""

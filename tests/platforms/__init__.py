"""Platform fixture sites (one per platform) and the adapter tests that run against them."""

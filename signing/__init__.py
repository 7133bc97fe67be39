"""Signing, trusted timestamps, WACZ packaging and verification, working on files only."""

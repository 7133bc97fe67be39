"""Tests of the signing package: real keys, a real local TSA, real WARCs and WACZs."""

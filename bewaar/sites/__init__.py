"""Example sites served on 127.0.0.1: the social site of the demo, the seven platform fixture
sites, and synthetic crawls written with the crawler's own writer.

Installed with bewaar so that `bewaar demo`, the tests and the benchmarks use the same sites;
nothing here leaves loopback. Like `bewaar.app`, this sits above the packages it may use.
"""

"""The application layer: the only code that composes bewaar's packages.

crawler/, replay/, signing/ and catalog/ each import only the shared base (bewaar/) and
themselves, and meet through files on disk. What runs them together lives here: the command
line (cli.py), a crawl with its after-crawl steps (crawl.py: index, sign, catalog, report),
scheduled crawls (watch.py) and the demo (demo.py). tests/test_architecture.py enforces it.
"""

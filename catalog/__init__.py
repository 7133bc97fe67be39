"""The catalog: accounts, crawls, pages, posts and post versions in SQLite, built from files."""

"""Page reads: what the catalog, a learner's pages and a base's pages show, in a fixed number of queries."""

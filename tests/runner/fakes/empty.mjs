// No test at all: a failure (under `node --test` it was one passing test).

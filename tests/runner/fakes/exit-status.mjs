// Every test passes, but the file sets a non-zero exit status: a failure.
import { test } from 'node:test';

test('passes', () => {});
process.exitCode = 3;

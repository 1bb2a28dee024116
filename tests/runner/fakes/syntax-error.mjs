// Does not parse: a failure with no test.
import { test } from 'node:test';

test('never runs', () => {}

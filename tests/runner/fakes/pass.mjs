// Two tests that pass: PASS (2).
import { test } from 'node:test';

test('one', () => {});
test('two', async () => {});

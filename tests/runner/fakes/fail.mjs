// One test of two fails: FAIL (1 passed, 1 failed).
import assert from 'node:assert/strict';
import { test } from 'node:test';

test('passes', () => {});
test('fails', () => { assert.equal(1, 2); });

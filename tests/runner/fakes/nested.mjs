// Subtests of a test count as tests: PASS (3).
import { test } from 'node:test';

test('parent', async (t) => {
	await t.test('child 1', () => {});
	await t.test('child 2', () => {});
});

// A passing test beside a skipped one, a todo and one that skips itself:
// PASS (1, 3 skipped).
import { describe, test } from 'node:test';

describe('mixed', () => {
	test('passes', () => {});
	test.skip('skipped', () => {});
	test.todo('todo');
	test('skips itself', (t) => { t.skip('not today'); });
});

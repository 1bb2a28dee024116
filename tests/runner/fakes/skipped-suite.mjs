// A suite skipped as a whole, its tests never listed by node: one skip,
// nothing passed: SKIP (1 skipped).  Not a missing dependency.
import { describe, test } from 'node:test';

describe('suite', { skip: 'needs CHAT_TEST_DIR' }, () => {
	test('a', () => {});
	test('b', () => {});
});

// Every test passes but the suite's after() hook throws: a failure.
import { after, describe, test } from 'node:test';

describe('suite', () => {
	after(() => { throw new Error('cleanup failed'); });
	test('passes', () => {});
});

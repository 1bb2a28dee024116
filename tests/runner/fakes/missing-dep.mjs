// A suite skipped for a missing dependency (its reason ends in the make
// command that supplies it): a skip, and a failure under CI=true.
import { describe, test } from 'node:test';

test('passes', () => {});
describe('needs a browser', { skip: 'no chromium (make deps)' }, () => {
	test('a', () => {});
});

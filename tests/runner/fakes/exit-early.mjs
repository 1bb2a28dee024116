// The second of three tests ends the process with status 0: the third
// never runs, and node prints no plan or summary.  A failure.
import { test } from 'node:test';

test('runs', async () => {
	await new Promise((r) => setTimeout(r, 50));
});
test('exits', async () => {
	await new Promise((r) => setTimeout(r, 50));
	process.exit(0);
});
test('never runs', () => {});

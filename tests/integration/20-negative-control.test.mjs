// The negative control of the durability tests: the same offline-delivery
// check (tests/lib/offline.mjs) runs on the real workers, where nothing
// may be missing, and on workers built to store no message (make SAN=1
// NOSTORE=1), where it must report every message missing.  A check that
// passed on both would prove nothing.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';

import { closeAll } from '../lib/client.mjs';
import { offlineDelivery } from '../lib/offline.mjs';
import {
	canStartOwnStack, nostoreBuildDir, startOwnStack,
} from '../lib/own-stack.mjs';

const N = 20;
const skip = !canStartOwnStack() ?
    'needs fcgi_app and push_daemon built (make SAN=1 all)' :
    nostoreBuildDir() === null ?
    'needs the no-store workers (make SAN=1 NOSTORE=1 all)' : false;

// Volume limits are 15-abuse-limits' to test, not ours.
const SETS = ['registrations_per_hour=0', 'connections_per_address=0'];

describe('negative control', { skip }, () => {
	let stack = null;

	after(async () => {
		closeAll();
		if (stack)
			await stack.remove();
	});

	test('on the real workers, every acknowledged message sent to an ' +
	    'offline friend arrives at its login', { timeout: 60000 },
	    async () => {
		stack = await startOwnStack({ sets: SETS });
		const { acked, missing } = await offlineDelivery(N);
		assert.equal(acked.length, N);
		assert.deepEqual(missing, []);
		await stack.remove();
		stack = null;
	});

	test('on workers that store nothing, the same check sees every ' +
	    'message missing', { timeout: 60000 }, async () => {
		stack = await startOwnStack({ sets: SETS,
		    build: nostoreBuildDir() });
		const { acked, missing } = await offlineDelivery(N);
		// The service lied: it acknowledged them all.
		assert.equal(acked.length, N);
		assert.equal(missing.length, N,
		    'the check missed a loss it should see');
		await stack.remove();
		stack = null;
	});
});

// kill -9 of the Galera node chat node 1 uses, mid-conversation: node 1's
// workers go on with the next server of db_fallback, the batches that
// were in flight answer "server error" (nothing acknowledged is lost),
// and the killed node rejoins and catches up.
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';

import { closeAll } from '../lib/client.mjs';

import { befriend, newUsers } from '../lib/friends.mjs';
import { HAVE_CLUSTER, chatSql, clusterCmd, collect, galeraSql,
    loggedInAt, sendSeries, tally, until, useNode } from
    '../lib/cluster.mjs';

const skip = HAVE_CLUSTER ? false : 'no cluster (tests/cluster/run.sh)';

async function status(n, name) {
	const rows = await galeraSql(n, `SHOW STATUS LIKE '${name}'`);
	return rows[0]?.[1];
}

describe('a Galera node killed', { skip }, () => {
	useNode(1);
	afterEach(closeAll);
	test('the service answers on the other two, 0 acknowledged lost; ' +
	    'the node rejoins and catches up', { timeout: 400000 },
	    async () => {
		const [a, b] = await newUsers(2);
		await befriend(a, b);
		const ca = await loggedInAt(1, 'ws', a);
		const cb = await loggedInAt(2, 'tcp', b);
		const count = 150;
		const texts = Array.from({ length: count },
		    (_, i) => `galera ${i}`);
		const receiving = collect(cb, a, texts, 20000);
		let rejoin = null;
		const res = await sendSeries(ca, a, b, 'galera', count, 20, [
			{ at: 50, fn: () => clusterCmd('kill-galera', 1) },
			// Rejoining (a state transfer) runs while we send.
			{ at: 100, fn: () => {
				rejoin = clusterCmd('start-galera', 1);
			} },
		]);
		const received = await receiving;
		const t = tally('galera-kill', { ...res, received });
		assert.equal(t.lost, 0, `lost: ${t.lostTexts.join(', ')}`);
		assert.ok(t.acknowledged >= count - 10,
		    `only ${t.acknowledged} of ${count} acknowledged`);
		await rejoin;
		assert.equal(await status(1, 'wsrep_local_state_comment'),
		    'Synced');
		assert.equal(await status(1, 'wsrep_cluster_size'), '3');
		// The rejoined node holds every message the others do.
		const q = `SELECT COUNT(*) FROM messages WHERE sender_id = ${a.id}`;
		const want = String(t.acknowledged);
		for (const n of [1, 2, 3])
			await until(`galera ${n} has ${want} messages`, async () =>
			    (await chatSql(n, q))[0][0] === want, 30000, 500);
		ca.close();
		cb.close();
	});
});

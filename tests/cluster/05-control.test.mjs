// The negative control of the failure tests: the same tally over a run
// where one acknowledged message is taken out of the database before
// its recipient logs in.  The checker must see it lost; if it did not,
// its "lost=0" elsewhere would prove nothing.
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';

import { closeAll } from '../lib/client.mjs';

import { befriend, newUsers, untilOffline } from '../lib/friends.mjs';
import { HAVE_CLUSTER, chatSql, loggedInAt, sendSeries, tally, useNode }
    from '../lib/cluster.mjs';

const skip = HAVE_CLUSTER ? false : 'no cluster (tests/cluster/run.sh)';

describe('negative control', { skip }, () => {
	useNode(1);
	afterEach(closeAll);
	test('a message removed after its success is counted lost',
	    async () => {
		const [a, b] = await newUsers(2);
		await befriend(a, b);
		const ca = await loggedInAt(1, 'tcp', a);
		await untilOffline(ca, a, b);
		const res = await sendSeries(ca, a, b, 'control', 10, 0);
		assert.equal(res.acked.length, 10);
		await chatSql(2, `DELETE FROM messages WHERE sender_id = ${a.id}` +
		    ' AND body = \'control 4\'');
		const cb = await loggedInAt(2, 'ws', b);
		const received = cb.backlog.filter((p) =>
		    p.command === 'send_message').map((p) => p.message);
		const t = tally('control', { ...res, received });
		assert.equal(t.lost, 1);
		assert.deepEqual(t.lostTexts, ['control 4']);
		ca.close();
		cb.close();
	});
});

// Many senders at once: every message arrives, once, and the messages of
// one sender connection in the order sent (DESIGN.md section 3), on both
// transports and across them.  Each sender pipelines its messages (sends
// them all before reading any answer), which stays within the default
// rate limit's burst of 100 packets.
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';

import { closeAll } from '../lib/client.mjs';
import { assertFail, assertSuccess } from '../lib/expect.mjs';
import { befriend, newUsers, pool } from '../lib/friends.mjs';
import { loggedIn } from '../lib/users.mjs';

// Packets may queue behind thousands of others: wait long for each.
const WAIT = 60000;

// Sends count messages from a to b on c without waiting; the texts.
function pipeline(c, a, b, count, tag) {
	const texts = [];
	for (let k = 0; k < count; k++) {
		texts.push(`${tag} ${k}`);
		c.send({ command: 'send_message', src: a.id, dst: b.id,
		    message: `${tag} ${k}` });
	}
	return texts;
}

// The next count answers on c are send_message_return success.
async function successes(c, count) {
	for (let k = 0; k < count; k++)
		assertSuccess(await c.next(WAIT), 'send_message_return');
}

// Reads count packets from c; all must be messages to b.
async function messages(c, b, count) {
	const got = [];
	for (let k = 0; k < count; k++) {
		const p = await c.next(WAIT);
		assert.equal(p.command, 'send_message', JSON.stringify(p));
		assert.equal(p.dst, b.id);
		got.push(p);
	}
	return got;
}

// Nothing more is queued for c: the next packet is the answer to a probe.
async function nothingMore(c, u) {
	assertFail(await c.request({ command: 'login', id: u.id,
	    password: u.password }, WAIT), 'login_return', 'already logged in');
}

function assertIncreasing(ids, what) {
	for (let i = 1; i < ids.length; i++)
		assert.ok(BigInt(ids[i]) > BigInt(ids[i - 1]),
		    `${what}: msg_ids out of order: ${ids}`);
}

describe('many senders at once', () => {
	afterEach(closeAll);

	test('fifty pairs, half of them across transports, each sending ' +
	    'fifty messages at once: all 2500 arrive, once each, in order ' +
	    'per pair', { timeout: 300000 }, async () => {
		const pairs = 50;
		const count = 50;
		// Pair i: sender and recipient transports.
		const kinds = [['ws', 'ws'], ['tcp', 'tcp'], ['ws', 'tcp'],
		    ['tcp', 'ws']];
		const users = await newUsers(2 * pairs);
		const list = Array.from({ length: pairs }, (_, i) => ({
			a: users[2 * i], b: users[2 * i + 1],
			ta: kinds[i % 4][0], tb: kinds[i % 4][1],
		}));
		await pool(list, 8, (p) => befriend(p.a, p.b, p.ta, p.tb));
		await pool(list, 8, async (p) => {
			p.cb = await loggedIn(p.tb, p.b);
			p.ca = await loggedIn(p.ta, p.a);
		});

		for (const [i, p] of list.entries())
			p.texts = pipeline(p.ca, p.a, p.b, count, `pair ${i}`);
		await Promise.all(list.map(async (p) => {
			const [, got] = await Promise.all([successes(p.ca, count),
			    messages(p.cb, p.b, count)]);
			assert.deepEqual(got.map((m) => m.src),
			    got.map(() => p.a.id));
			assert.deepEqual(got.map((m) => m.message), p.texts);
			assertIncreasing(got.map((m) => m.msg_id), p.texts[0]);
		}));
		// No repeats: nothing else was queued for any recipient.
		await Promise.all(list.map((p) => nothingMore(p.cb, p.b)));
	});

	test('ten senders on both transports writing to one recipient at ' +
	    'once: each sender\'s messages arrive in the order sent, once',
	    { timeout: 120000 }, async () => {
		const senders = 10;
		const count = 30;
		const [b, ...as] = await newUsers(1 + senders);
		await pool(as, 5, (a, i) => befriend(a, b, i % 2 ? 'tcp' : 'ws',
		    'ws'));
		const cb = await loggedIn('ws', b);
		const conns = await pool(as, 5, (a, i) =>
		    loggedIn(i % 2 ? 'ws' : 'tcp', a));

		const texts = conns.map((c, i) => pipeline(c, as[i], b, count,
		    `from ${i}`));
		const [, got] = await Promise.all([
			Promise.all(conns.map((c) => successes(c, count))),
			messages(cb, b, senders * count),
		]);
		as.forEach((a, i) => {
			const mine = got.filter((m) => m.src === a.id);
			assert.deepEqual(mine.map((m) => m.message), texts[i]);
			assertIncreasing(mine.map((m) => m.msg_id), `sender ${i}`);
		});
		await nothingMore(cb, b);
	});
});

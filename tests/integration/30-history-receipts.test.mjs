// The rest of PROTOCOL.md section 7: history, read, and the notices
// presence, sent (carbons) and receipt, on both transports.  The
// connections that look at the notices ask for them (connect(...,
// {notices: true})); the others set them aside as an original client
// ignores them.
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';

import { TRANSPORTS, closeAll, connect } from '../lib/client.mjs';
import { assertError, assertFail, assertSuccess } from '../lib/expect.mjs';
import { befriend } from '../lib/friends.mjs';
import { HAVE_STACK_DIR, sql } from '../lib/stack.mjs';
import { drain, login, loggedIn, newUser, unknownId } from '../lib/users.mjs';

const other = (t) => (t === 'ws' ? 'tcp' : 'ws');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A connection of transport that sees the unasked notices, logged in as
// u, what waited for u drained.
async function watching(transport, u, extra = {}) {
	const c = await connect(transport, { notices: true });
	await login(c, u, extra);
	c.backlog = await drain(c, u);
	return c;
}

// The next packet on c that pred takes, past the others.
async function nextOf(c, pred) {
	for (;;) {
		const p = await c.next();
		if (pred(p))
			return p;
	}
}

// Every packet of one history answer: all but the last have "more".
async function historyPage(c, u, withId, extra = {}) {
	c.send({ command: 'history', id: u.id, with: withId, ...extra });
	const packets = [await nextOf(c, (p) => p.command === 'history_return')];
	while (packets.at(-1).more)
		packets.push(await c.next());
	for (const p of packets) {
		assertSuccess(p, 'history_return');
		assert.equal(p.with, withId);
		assert.ok(JSON.stringify(p).length <= 2048);
	}
	return {
		messages: packets.flatMap((p) => p.messages),
		oldest: packets.at(-1).oldest === true,
		packets,
	};
}

// Sends packet on c and returns the answer named command, past notices.
async function ask(c, packet, command) {
	c.send(packet);
	return nextOf(c, (p) => p.command === command);
}

// What reached c before a barrier, the unasked notices included.
async function arrived(c, u) {
	return drain(c, u);
}

afterEach(closeAll);

describe('history', () => {
	test('pages across 250 messages both ways, newest first, with no ' +
	    'gap or repeat; "oldest" on the last page; nothing of a third ' +
	    'account', async () => {
		const a = await newUser();
		const b = await newUser();
		const c3 = await newUser();
		await befriend(a, b);
		await befriend(a, c3);
		const ca = await loggedIn('ws', a);
		const cb = await loggedIn('tcp', b);
		const sent = [];
		// Paced under each account's 50 packets a second.
		for (let i = 0; i < 250; i++) {
			const [from, to, c] = i % 3 === 0 ? [b, a, cb] : [a, b, ca];
			const p = await ask(c, { command: 'send_message',
			    src: from.id, dst: to.id, message: `m${i} ${'x'.repeat(i)}` },
			    'send_message_return');
			assertSuccess(p, 'send_message_return');
			sent.push({ src: from.id, message: `m${i} ${'x'.repeat(i)}` });
			if (i % 3 === 2)
				await sleep(20);
			// A third account's conversation, interleaved.
			if (i % 50 === 0)
				assertSuccess(await ask(ca, { command: 'send_message',
				    src: a.id, dst: c3.id, message: 'not for b' },
				    'send_message_return'), 'send_message_return');
		}
		const h = await loggedIn('tcp', a);
		const got = [];
		let before;
		let pages = 0;
		for (;;) {
			const page = await historyPage(h, a, b.id,
			    before ? { before, limit: 40 } : { limit: 40 });
			pages++;
			assert.ok(page.messages.length <= 40);
			got.push(...page.messages);
			if (page.oldest)
				break;
			assert.equal(page.messages.length, 40);
			before = page.messages.at(-1).msg_id;
		}
		assert.equal(pages, 7);
		assert.deepEqual(got.map((m) => m.message),
		    sent.map((m) => m.message).reverse());
		assert.deepEqual(got.map((m) => m.src), sent.map((m) => m.src)
		    .reverse());
		for (let i = 1; i < got.length; i++)
			assert.ok(BigInt(got[i - 1].msg_id) > BigInt(got[i].msg_id));
		for (const m of got) {
			assert.ok([a.id, b.id].includes(m.src));
			assert.ok([a.id, b.id].includes(m.dst));
			assert.match(m.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
			// Ticks on a's own messages only.
			if (m.src === a.id)
				assert.equal(typeof m.delivered, 'boolean');
			else
				assert.equal(m.delivered, undefined);
		}
		// The same conversation seen from b, and a's other one alone.
		const fromB = await historyPage(cb, b, a.id, { limit: 100 });
		assert.deepEqual(fromB.messages.map((m) => m.msg_id),
		    got.slice(0, 100).map((m) => m.msg_id));
		const withC = await historyPage(h, a, c3.id, { limit: 100 });
		assert.equal(withC.messages.length, 5);
		assert.ok(withC.oldest);
		assert.ok(withC.messages.every((m) => m.message === 'not for b'));
	});

	test('limit: 20 by default, capped at 100; before pages; a big page ' +
	    'comes as several packets', async () => {
		const a = await newUser();
		const b = await newUser();
		await befriend(a, b);
		const ca = await loggedIn('ws', a);
		for (let i = 0; i < 120; i++) {
			assertSuccess(await ca.request({ command: 'send_message',
			    src: a.id, dst: b.id, message: `${i} ${'y'.repeat(300)}` }),
			    'send_message_return');
			if (i % 2)
				await sleep(25);
		}
		const h = await loggedIn('tcp', a);
		const dflt = await historyPage(h, a, b.id);
		assert.equal(dflt.messages.length, 20);
		assert.equal(dflt.oldest, false);
		assert.equal(dflt.messages[0].message.split(' ')[0], '119');
		const capped = await historyPage(h, a, b.id, { limit: 1000 });
		assert.equal(capped.messages.length, 100);
		// However large: a number past what a 64-bit integer holds.
		assert.equal((await historyPage(h, a, b.id, { limit: 1e300 }))
		    .messages.length, 100);
		assert.ok(capped.packets.length > 1, 'one packet for 30 KB');
		const rest = await historyPage(h, a, b.id, { limit: 100,
		    before: capped.messages.at(-1).msg_id });
		assert.equal(rest.messages.length, 20);
		assert.ok(rest.oldest);
		assert.equal(rest.messages.at(-1).message.split(' ')[0], '0');
	});

	test('shows the conversation whether or not they are still friends ' +
	    'or blocked, and none with an account never talked to', async () => {
		const a = await newUser();
		const b = await newUser();
		await befriend(a, b);
		const ca = await loggedIn('ws', a);
		assertSuccess(await ca.request({ command: 'send_message', src: a.id,
		    dst: b.id, message: 'before the end' }), 'send_message_return');
		assertSuccess(await ca.request({ command: 'block', src: a.id,
		    dst: b.id }), 'block_return');
		const cb = await loggedIn('tcp', b);
		const seen = await historyPage(cb, b, a.id);
		assert.deepEqual(seen.messages.map((m) => m.message),
		    ['before the end']);
		assert.ok(seen.oldest);
		const none = await historyPage(ca, a, unknownId());
		assert.deepEqual(none.messages, []);
		assert.ok(none.oldest);
		const self = await historyPage(ca, a, a.id);
		assert.deepEqual(self.messages, []);
	});

	for (const t of TRANSPORTS) {
		test(`fails (${t}): not logged in, src is not you, bad request ` +
		    'for a bad limit, with or before', async () => {
			const a = await newUser();
			const b = await newUser();
			const c0 = await connect(t);
			assertFail(await c0.request({ command: 'history', id: a.id,
			    with: b.id }), 'history_return', 'not logged in');
			const ca = await loggedIn(t, a);
			assertFail(await ca.request({ command: 'history', id: b.id,
			    with: a.id }), 'history_return', 'src is not you');
			for (const bad of [{ limit: 0 }, { limit: -3 }, { limit: 1.5 },
			    { limit: 150.5 },
			    { limit: '10' }, { limit: null }, { limit: true },
			    { with: 'bob' }, { with: [b.id] }, { before: 'x' },
			    { before: 0 }, { before: {} }])
				assertError(await ca.request({ command: 'history',
				    id: a.id, with: b.id, ...bad }), 'bad request',
				    JSON.stringify(bad));
			assertError(await ca.request({ command: 'history', id: a.id }),
			    'bad request');
			// Numbers are ids too.
			assertSuccess(await ca.request({ command: 'history',
			    id: Number(a.id), with: Number(b.id), limit: 5 }),
			    'history_return');
		});
	}

	test('answers as fast at 100 000 stored messages as at 100 (a figure ' +
	    'for the report), by a range scan of messages_conversation',
	{ skip: HAVE_STACK_DIR ? false : 'needs the stack directory' },
	async (t) => {
		const [a, b, c, d] = [await newUser(), await newUser(),
		    await newUser(), await newUser()];
		const fill = (x, y, n) => sql('INSERT INTO messages ' +
		    '(sender_id, recipient_id, body, created_at, delivered_at) ' +
		    `SELECT IF(seq % 2, ${x}, ${y}), IF(seq % 2, ${y}, ${x}), ` +
		    "CONCAT('n', seq), UTC_TIMESTAMP(3), UTC_TIMESTAMP(3) FROM " +
		    `seq_1_to_${n}`);
		await fill(a.id, b.id, 100000);
		await fill(c.id, d.id, 100);
		const plan = (await sql('EXPLAIN SELECT id FROM messages ' +
		    'FORCE INDEX (messages_conversation) WHERE sender_id = ' +
		    `${a.id} AND recipient_id = ${b.id} AND id < ` +
		    '18446744073709551615 ORDER BY id DESC LIMIT 51'))[0];
		t.diagnostic(`EXPLAIN: ${plan.join(' | ')}`);
		// id, select_type, table, type, possible_keys, key, ...
		assert.equal(plan[3], 'range');
		assert.equal(plan[5], 'messages_conversation');
		const ca = await loggedIn('tcp', a);
		const cc = await loggedIn('tcp', c);
		async function time(conn, u, w) {
			const start = process.hrtime.bigint();
			for (let i = 0; i < 50; i++) {
				const page = await historyPage(conn, u, w, { limit: 50 });
				assert.equal(page.messages.length, 50);
			}
			return Number(process.hrtime.bigint() - start) / 50e6;
		}
		await time(cc, c, d.id);
		const small = await time(cc, c, d.id);
		const big = await time(ca, a, b.id);
		t.diagnostic(`history, 50 messages a page: ${small.toFixed(2)} ms ` +
		    `at 100 stored, ${big.toFixed(2)} ms at 100 000 ` +
		    `(${(big / small).toFixed(2)}x)`);
		// The deepest page is as cheap: before a low id.
		const last = await historyPage(ca, a, b.id, { limit: 50,
		    before: '1' });
		assert.deepEqual(last.messages, []);
	});
});

describe('read and receipts', () => {
	test('the sender, on another transport, is told delivered when its ' +
	    'message is written to the recipient, and read when shown',
	async () => {
		const a = await newUser();
		const b = await newUser();
		await befriend(a, b);
		const ca = await watching('tcp', a);
		const cb = await watching('ws', b);
		const p = await ask(ca, { command: 'send_message', src: a.id,
		    dst: b.id, message: 'tick tick' }, 'send_message_return');
		assertSuccess(p, 'send_message_return');
		const m = await nextOf(cb, (x) => x.command === 'send_message');
		// The success names the message the recipient got.
		assert.deepEqual({ msg_id: p.msg_id, time: p.time },
		    { msg_id: m.msg_id, time: m.time });
		const delivered = await nextOf(ca, (x) => x.command === 'receipt');
		assert.deepEqual(delivered, { command: 'receipt', dst: b.id,
		    msg_ids: [m.msg_id], status: 'delivered' });
		cb.send({ command: 'read', msg_ids: [m.msg_id] });
		const read = await nextOf(ca, (x) => x.command === 'receipt');
		assert.deepEqual(read, { command: 'receipt', dst: b.id,
		    msg_ids: [m.msg_id], status: 'read' });
		// read is never answered; the state is in history.
		assert.deepEqual((await arrived(cb, b)).filter((x) =>
		    x.command !== 'presence'), []);
		const h = await historyPage(ca, a, b.id);
		assert.deepEqual({ delivered: h.messages[0].delivered,
		    read: h.messages[0].read }, { delivered: true, read: true });
		// A second read, and reads of foreign or unknown ids, tell
		// nobody anything.
		const c3 = await newUser();
		await befriend(a, c3);
		const cc = await watching('tcp', c3);
		cc.send({ command: 'read', msg_ids: [m.msg_id, '1', 'x', 7, null] });
		cb.send({ command: 'read', msg_ids: [m.msg_id] });
		assert.deepEqual((await arrived(ca, a)).filter((x) =>
		    x.command === 'receipt'), []);
	});

	test('offline: delivered at the recipient\'s login; a connection in ' +
	    'ack mode delivers with its ack', async () => {
		const a = await newUser();
		const b = await newUser();
		await befriend(a, b);
		const ca = await watching('ws', a);
		for (const message of ['one', 'two'])
			assertSuccess(await ask(ca, { command: 'send_message',
			    src: a.id, dst: b.id, message }, 'send_message_return'),
			    'send_message_return');
		assert.deepEqual((await arrived(ca, a)).filter((x) =>
		    x.command === 'receipt'), []);
		let h = await historyPage(ca, a, b.id);
		assert.deepEqual(h.messages.map((x) => x.delivered), [false, false]);
		// b in ack mode: written is not delivered, the ack is.
		const cb = await connect('tcp');
		await login(cb, b, { ack: true });
		const got = (await drain(cb, b)).filter((x) =>
		    x.command === 'send_message');
		assert.equal(got.length, 2);
		assert.deepEqual((await arrived(ca, a)).filter((x) =>
		    x.command === 'receipt'), []);
		cb.send({ command: 'ack', msg_ids: got.map((x) => x.msg_id) });
		const r = await nextOf(ca, (x) => x.command === 'receipt');
		assert.deepEqual(r, { command: 'receipt', dst: b.id,
		    msg_ids: got.map((x) => x.msg_id), status: 'delivered' });
		h = await historyPage(ca, a, b.id);
		assert.deepEqual(h.messages.map((x) => [x.delivered, x.read]),
		    [[true, false], [true, false]]);
	});

	test('read before login and a malformed read are dropped silently',
	    async () => {
		const a = await newUser();
		const c = await connect('ws');
		c.send({ command: 'read', msg_ids: ['1'] });
		c.send({ command: 'read' });
		await login(c, a);
		c.send({ command: 'read', msg_ids: 'nope' });
		c.send({ command: 'read', msg_ids: {} });
		assert.deepEqual(await drain(c, a), []);
	});
});

describe('carbons', () => {
	test('a message reaches every other connection of the sender as ' +
	    '"sent", and not the one that sent it', async () => {
		const a = await newUser();
		const b = await newUser();
		await befriend(a, b);
		const sender = await watching('ws', a);
		const others = [await watching('tcp', a), await watching('ws', a)];
		const cb = await watching('tcp', b);
		const p = await ask(sender, { command: 'send_message', src: a.id,
		    dst: b.id, message: 'on every device' }, 'send_message_return');
		assertSuccess(p, 'send_message_return');
		const m = await nextOf(cb, (x) => x.command === 'send_message');
		for (const c of others) {
			const s = await nextOf(c, (x) => x.command === 'sent');
			assert.deepEqual(s, { command: 'sent', src: a.id, dst: b.id,
			    message: 'on every device', msg_id: m.msg_id,
			    time: m.time });
		}
		assert.deepEqual((await arrived(sender, a)).filter((x) =>
		    x.command === 'sent'), []);
		// The recipient gets no carbon of its own message.
		assert.deepEqual((await arrived(cb, b)).filter((x) =>
		    x.command === 'sent'), []);
		// A failed send copies nothing.
		const c3 = await newUser();
		assertFail(await ask(sender, { command: 'send_message',
		    src: a.id, dst: c3.id, message: 'x' }, 'send_message_return'),
		    'send_message_return', 'not friends');
		for (const c of others)
			assert.deepEqual((await arrived(c, a)).filter((x) =>
			    x.command === 'sent'), []);
	});
});

describe('presence', () => {
	for (const t of TRANSPORTS) {
		test(`friends are told of the first login and the last logout ` +
		    `or close only (${t})`, async () => {
			const a = await newUser();
			const f = await newUser();
			await befriend(a, f);
			const cf = await watching(other(t), f);
			const first = await watching(t, a);
			assert.deepEqual(await nextOf(cf, (x) =>
			    x.command === 'presence'), { command: 'presence',
			    id: a.id, online: true });
			// A second device: nothing.
			const second = await watching(other(t), a);
			assert.deepEqual((await arrived(cf, f)).filter((x) =>
			    x.command === 'presence'), []);
			assertSuccess(await ask(second, { command: 'logout',
			    id: a.id }, 'logout_return'), 'logout_return');
			assert.deepEqual((await arrived(cf, f)).filter((x) =>
			    x.command === 'presence'), []);
			// The last one closing: offline.
			first.close();
			assert.deepEqual(await nextOf(cf, (x) =>
			    x.command === 'presence'), { command: 'presence',
			    id: a.id, online: false });
			// Back, then a logout of the only one: offline again.
			const again = await watching(t, a);
			assert.equal((await nextOf(cf, (x) =>
			    x.command === 'presence')).online, true);
			assertSuccess(await ask(again, { command: 'logout',
			    id: a.id }, 'logout_return'), 'logout_return');
			assert.equal((await nextOf(cf, (x) =>
			    x.command === 'presence')).online, false);
			// a itself is told nothing of its own presence.
			assert.deepEqual([...first.backlog, ...second.backlog,
			    ...again.backlog].filter((x) => x.command === 'presence' &&
			    x.id === a.id), []);
		});
	}
});

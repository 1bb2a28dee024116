// Nothing acknowledged is lost (DESIGN.md section 3): a message whose
// sender got send_message_return success survives a restart of the whole
// stack and a kill -9 of the push daemon in the middle of a stream, and is
// delivered at least once, repeats carrying the same msg_id.
//
// These tests stop and kill parts of a stack, so they run on a stack of
// their own (tests/lib/own-stack.mjs), started with a high packet rate:
// the rate limit is not what is tested here.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';

import { closeAll, connect } from '../lib/client.mjs';
import { assertSuccess, pick } from '../lib/expect.mjs';
import { befriend, newUsers, untilOffline } from '../lib/friends.mjs';
import { canStartOwnStack, startOwnStack } from '../lib/own-stack.mjs';
import { children, until } from '../lib/stack.mjs';
import { login, loggedIn } from '../lib/users.mjs';

const skip = canStartOwnStack() ? false :
    'needs fcgi_app and push_daemon built (make SAN=1 all)';

let stack = null;

async function send(c, a, b, message) {
	assertSuccess(await c.request({ command: 'send_message', src: a.id,
	    dst: b.id, message }), 'send_message_return');
}

// Reads what arrives on c until it closes: each send_message is handed to
// onMessage and acked in batches of 10 (and at flush()); other packets are
// kept in others.
function ackingReader(c, onMessage) {
	const others = [];
	let pending = [];
	const flush = () => {
		if (pending.length > 0 && !c.closeInfo)
			c.send({ command: 'ack', msg_ids: pending });
		pending = [];
	};
	const done = (async () => {
		for (;;) {
			let p;
			try {
				p = await c.next(120000);
			} catch (e) {
				if (c.closeInfo)
					return;
				throw e;
			}
			if (p.command !== 'send_message') {
				others.push(p);
				continue;
			}
			onMessage(p);
			pending.push(p.msg_id);
			if (pending.length >= 10)
				flush();
		}
	})();
	return { flush, done, others };
}

// What a recipient got, by msg_id: take(p) counts a send_message, a
// repeat with its msg_id as a duplicate, and a repeat with another text as
// wrong.
function deliveries() {
	const byId = new Map();
	const wrong = [];
	let dups = 0;
	const take = (p) => {
		if (p.command !== 'send_message')
			return;
		if (!byId.has(p.msg_id)) {
			byId.set(p.msg_id, p.message);
			return;
		}
		dups++;
		if (byId.get(p.msg_id) !== p.message)
			wrong.push(`${p.msg_id}: ${p.message}`);
	};
	return { byId, wrong, take, duplicates: () => dups };
}

/*
 * b logs in again after a crash: what its socket never got (or was never
 * marked as got) comes from the database.  Every acknowledged text must
 * be among what b received, repeats only with their msg_id; the figures
 * go to the test's diagnostics.
 */
async function loginFinds(t, b, seen, acked, failed) {
	const again = await loggedIn('ws', b);
	for (const p of again.backlog)
		seen.take(p);
	const got = new Set(seen.byId.values());
	const missing = acked.filter((m) => !got.has(m));
	const figures = `acknowledged ${acked.length}, server error ` +
	    `${failed}, received ${seen.byId.size} distinct, duplicates ` +
	    `${seen.duplicates()} (came again at login: ` +
	    `${again.backlog.length}), missing ${missing.length}`;
	t.diagnostic(figures);
	console.log(`durability: ${figures}`);
	assert.deepEqual(missing, [], 'acknowledged but never received');
	assert.deepEqual(seen.wrong, []);
}

describe('durability', { skip }, () => {
	before(async () => {
		stack = await startOwnStack({ sets: ['packet_rate=100000',
		    'packet_burst=100000'] });
	});
	after(async () => {
		closeAll();
		if (stack)
			await stack.remove();
	});
	afterEach(closeAll);

	test('messages stored for an offline friend survive a stop and ' +
	    'start of the whole stack and all arrive at login, in order',
	    { timeout: 120000 }, async () => {
		const n = 20;
		const [a, b] = await newUsers(2);
		await befriend(a, b);
		const ca = await loggedIn('tcp', a);
		await untilOffline(ca, a, b);
		for (let i = 0; i < n; i++)
			await send(ca, a, b, `kept ${i}`);
		ca.close();

		await stack.stop();
		await stack.start();

		const cb = await loggedIn('ws', b);
		assert.deepEqual(cb.backlog.map((p) => pick(p, 'command', 'src',
		    'dst', 'message')), Array.from({ length: n }, (_, i) =>
		    ({ command: 'send_message', src: a.id, dst: b.id,
		    message: `kept ${i}` })));
		const ids = cb.backlog.map((p) => BigInt(p.msg_id));
		for (let i = 1; i < n; i++)
			assert.ok(ids[i] > ids[i - 1], `msg_ids out of order: ${ids}`);
	});

	test('a kill -9 of the push daemon in the middle of a stream loses ' +
	    'no acknowledged message: each arrives at least once, a repeat ' +
	    'with the same msg_id', { timeout: 180000 }, async (t) => {
		const n = 300;
		const killAt = 100;
		const [a, b] = await newUsers(2);
		await befriend(a, b);

		// The recipient, in ack mode, on WebSocket; again after the
		// crash.  byId: msg_id -> text; first: texts in the order first
		// seen; wrong: what should never be.
		const byId = new Map();
		const first = [];
		const seen = new Set();
		const wrong = [];
		let received = 0;
		let duplicates = 0;
		const onMessage = (p) => {
			received++;
			if (p.src !== a.id || p.dst !== b.id)
				wrong.push(`foreign packet ${JSON.stringify(p)}`);
			if (byId.has(p.msg_id)) {
				duplicates++;
				if (p.message !== byId.get(p.msg_id))
					wrong.push(`msg_id ${p.msg_id} came again as ` +
					    `${p.message}, first as ${byId.get(p.msg_id)}`);
				return;
			}
			if (seen.has(p.message))
				wrong.push(`${p.message} came under two msg_ids`);
			byId.set(p.msg_id, p.message);
			seen.add(p.message);
			first.push(p.message);
		};
		const recipient = async () => {
			const c = await connect('ws');
			await login(c, b, { ack: true });
			return { c, reader: ackingReader(c, onMessage) };
		};
		let rb = await recipient();

		// The sender, on TCP: one message at a time, each awaited.  At
		// killAt the daemon is killed while the stream goes on (past n
		// if need be, until the sender's connection is seen to end).
		const acked = [];
		const noAnswer = [];
		let restart = null;
		let sent = 0;
		let ca = await loggedIn('tcp', a);
		for (let i = 0; i < n || noAnswer.length === 0; i++) {
			assert.ok(i < 10 * n, 'the daemon is still running');
			sent++;
			if (i === killAt)
				restart = stack.restartDaemon('KILL');
			ca.send({ command: 'send_message', src: a.id, dst: b.id,
			    message: `stream ${i}` });
			let p;
			try {
				p = await ca.next(30000);
			} catch (e) {
				assert.ok(restart && ca.closeInfo,
				    `message ${i}: ${e.message}`);
				noAnswer.push(i);
				await restart;
				await rb.reader.done;
				[ca, rb] = await Promise.all([loggedIn('tcp', a),
				    recipient()]);
				continue;
			}
			assertSuccess(p, 'send_message_return', `message ${i}: ` +
			    JSON.stringify(p));
			acked.push(i);
		}
		await restart;

		// Every acknowledged message comes, then nothing is left.
		const missingNow = () => acked.filter((i) =>
		    !seen.has(`stream ${i}`));
		try {
			await until(() => missingNow().length === 0,
			    'every acknowledged message received', 30000);
		} catch (e) {
			// Reported below with the figures.
		}
		const missing = missingNow();
		const stored = noAnswer.filter((i) => seen.has(`stream ${i}`));
		const figures = `sent ${sent}, acknowledged to the sender ` +
		    `${acked.length}, no answer ${noAnswer.length} ` +
		    `(message ${noAnswer.join(', ')}; ${stored.length} of them ` +
		    'stored and delivered), received ' +
		    `${received}, distinct ${byId.size}, duplicates ${duplicates}, ` +
		    `missing ${missing.length}`;
		t.diagnostic(figures);
		console.log(`durability: ${figures}`);
		assert.deepEqual(missing, [], 'acknowledged but never received');
		assert.deepEqual(wrong, []);
		const order = first.map((m) => Number(m.split(' ')[1]));
		assert.deepEqual(order, order.slice().sort((x, y) => x - y),
		    'first deliveries out of the order sent');

		// Once all is acked, an ack-mode login finds nothing waiting.
		// The ack is handled before the packet after it is answered.
		rb.reader.flush();
		rb.c.send({ command: 'login', id: b.id, password: b.password });
		await until(() => rb.reader.others.some((p) =>
		    p.command === 'login_return' &&
		    p.detail === 'already logged in'), 'the answer after the ack');
		const again = await loggedIn('tcp', b, { ack: true });
		assert.deepEqual(again.backlog.map((p) => p.message), []);
	});

	test('a kill -9 of a worker while messages and their written ' +
	    'reports are in flight loses no acknowledged message: what it ' +
	    'left unmarked comes again at the next login, with its msg_id',
	    { timeout: 180000 }, async (t) => {
		const n = 200;
		const killAt = 80;
		const [a, b] = await newUsers(2);
		await befriend(a, b);
		const cb = await loggedIn('ws', b);
		const { byId, wrong, take, duplicates } = deliveries();
		const ca = await loggedIn('tcp', a);
		const acked = [];
		let failed = 0;
		const master = stack.pid('fcgi_app');
		for (let i = 0; i < n; i++) {
			ca.send({ command: 'send_message', src: a.id, dst: b.id,
			    message: `w ${i}` });
			if (i === killAt) {
				// Every worker of the master: whichever holds the
				// batch with b's reports and a's message dies.
				for (const pid of children(master))
					process.kill(pid, 'SIGKILL');
			}
			const p = await ca.next(30000);
			if (p.status === 'success')
				acked.push(`w ${i}`);
			else {
				assert.equal(p.detail, 'server error', JSON.stringify(p));
				failed++;
			}
			while (cb.packets.length > 0)
				take(cb.packets.shift());
		}
		// What b's socket got is in after a moment; a new login
		// fetches the rest.
		await new Promise((r) => setTimeout(r, 1000));
		while (cb.packets.length > 0)
			take(cb.packets.shift());
		cb.close();
		await loginFinds(t, b, { byId, wrong, take, duplicates }, acked,
		    failed);
	});

	test('a kill -9 of MariaDB while messages and their written reports ' +
	    'are in flight loses no acknowledged message: what the crash ' +
	    'left unmarked comes again at the next login, with its msg_id',
	    { timeout: 180000 }, async (t) => {
		const n = 200;
		const killAt = 80;
		const [a, b] = await newUsers(2);
		await befriend(a, b);
		const cb = await loggedIn('ws', b);
		const { byId, wrong, take, duplicates } = deliveries();
		// b reads live until the stack goes down.
		const live = (async () => {
			for (;;) {
				try {
					take(await cb.next(60000));
				} catch (e) {
					return;
				}
			}
		})();

		const ca = await loggedIn('tcp', a);
		const acked = [];
		let failed = 0;
		for (let i = 0; i < n; i++) {
			if (i === killAt)
				process.kill(stack.pid('mariadb'), 'SIGKILL');
			const p = await ca.request({ command: 'send_message',
			    src: a.id, dst: b.id, message: `db ${i}` }, 30000);
			if (p.status === 'success')
				acked.push(`db ${i}`);
			else {
				assert.equal(p.detail, 'server error', JSON.stringify(p));
				failed++;
			}
			// Once the database is down, a few refusals are enough.
			if (failed >= 10)
				break;
		}
		assert.ok(failed > 0, 'sends went on with MariaDB killed');
		ca.close();
		await stack.stop();
		await live;
		await stack.start();

		await loginFinds(t, b, { byId, wrong, take, duplicates }, acked,
		    failed);
	});
});

// Batches (docs/ARCHITECTURE.md, "Batches"): the daemon sends whatever
// waits as one request, which a worker runs in one transaction.  These
// tests stop the daemon's workers (SIGSTOP) so that packets pile up and
// must share a batch, kill one while batches are in flight, and check
// that nginx's /api/ never waits for the daemon's workers.
//
// They stop and kill workers, so they run on a stack of their own.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';

import { closeAll, connect, http } from '../lib/client.mjs';
import { assertError, assertFail, assertSuccess } from '../lib/expect.mjs';
import { befriend, newUsers, untilOffline } from '../lib/friends.mjs';
import { canStartOwnStack, startOwnStack } from '../lib/own-stack.mjs';
import { alive, mariadb, until } from '../lib/stack.mjs';
import {
	quiet, signalAll, waitsInRead, workersOf,
} from '../lib/workers.mjs';
import {
	loggedIn, randomPassword, uniqueName,
} from '../lib/users.mjs';

const skip = canStartOwnStack() ? false :
    'needs fcgi_app and push_daemon built (make SAN=1 all)';

let stack = null;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The workers that serve the daemon (a worker of /api/ holds api.sock's
// listener only).
function daemonWorkers() {
	return workersOf(stack.dir, stack.pid('fcgi_app'), 'fcgi.sock',
	    'login.sock');
}

// The daemon's batch counts of the main lane (admin socket "batches"):
// { batches, events, hist: [1, 2-3, 4-7, 8-15, ...] }.
function mainBatches() {
	return new Promise((resolve, reject) => {
		const sock = net.connect(path.join(stack.dir, 'run/admin.sock'));
		let out = '';
		sock.on('data', (d) => {
			out += d;
			if (!/^ok\n/m.test(out))
				return;
			sock.destroy();
			const m = /^main batches (\d+) events (\d+) failed \d+ hist ([\d ]+)$/m
			    .exec(out);
			if (!m)
				return reject(new Error(`no main lane in ${out}`));
			resolve({ batches: Number(m[1]), events: Number(m[2]),
			    hist: m[3].split(' ').map(Number) });
		});
		sock.on('error', reject);
		sock.write('batches\n');
	});
}

// The main lane's connections, idle and busy (admin "health").
function mainHealth() {
	return new Promise((resolve, reject) => {
		const sock = net.connect(path.join(stack.dir, 'run/admin.sock'));
		let out = '';
		sock.on('data', (d) => {
			out += d;
			if (!/^ok\n/m.test(out))
				return;
			sock.destroy();
			const m = /^main idle (\d+) busy (\d+) down \d+$/m.exec(out);
			if (!m)
				return reject(new Error(`no main lane in ${out}`));
			resolve({ idle: Number(m[1]), busy: Number(m[2]) });
		});
		sock.on('error', reject);
		sock.write('health\n');
	});
}

// A worker at work (in the database, or running), else the first one.
function busyWorker(pids) {
	return pids.find((pid) => !waitsInRead(pid)) ?? pids[0];
}

describe('batches', { skip }, () => {
	let stopped = [];

	before(async () => {
		// Volume limits are 15-abuse-limits' to test, not ours.
		stack = await startOwnStack({ sets: ['packet_rate=100000',
		    'packet_burst=100000', 'registrations_per_hour=0',
		    'connections_per_address=0'] });
	});
	after(async () => {
		closeAll();
		if (stack)
			await stack.remove();
	});
	afterEach(() => {
		// Never leave a worker stopped, whatever failed.
		signalAll(stopped.filter(alive), 'SIGCONT');
		stopped = [];
		closeAll();
	});

	test('a batch holding a bad packet, a not-friends, a too-long and ' +
	    'a bad-request send answers each right and stores the good ones',
	    { timeout: 60000 }, async () => {
		const [a, b, stranger] = await newUsers(3);
		await befriend(a, b);
		const plugs = await Promise.all([0, 1, 2, 3].map(() =>
		    loggedIn('ws', a)));
		const mix = await Promise.all(Array.from({ length: 10 },
		    (_, i) => loggedIn(i % 2 ? 'tcp' : 'ws', a)));
		await untilOffline(mix[0], a, b);

		// Every worker of the daemon stopped: the plugs take the
		// main lane's connections, and what comes next piles up.
		stopped = daemonWorkers();
		assert.equal(stopped.length, 6, 'workers + login_workers');
		signalAll(stopped, 'SIGSTOP');
		// One at a time, each in a connection of its own: sent
		// together, two may share a batch and leave a connection free.
		for (let i = 0; i < plugs.length; i++) {
			plugs[i].send({ command: 'list_friend', id: a.id });
			await until(async () => (await mainHealth()).busy > i,
			    `plug ${i} in flight`);
		}
		assert.equal((await mainHealth()).idle, 0,
		    'a main connection is free while every worker is stopped');
		mix[0].sendText('{"command":"send_message", not json');
		mix[1].send({ command: 'send_message', src: a.id,
		    dst: stranger.id, message: 'to a stranger' });
		mix[2].send({ command: 'send_message', src: a.id, dst: b.id,
		    message: 'x'.repeat(1950) });
		mix[3].send({ command: 'send_message', src: a.id,
		    message: 'no dst' });
		for (let i = 4; i < mix.length; i++)
			mix[i].send({ command: 'send_message', src: a.id,
			    dst: b.id, message: `good ${i}` });
		await sleep(300);
		const before = await mainBatches();
		signalAll(stopped, 'SIGCONT');
		stopped = [];

		for (const c of plugs)
			assertSuccess(await c.next(), 'list_friend_return');
		assertError(await mix[0].next(), 'bad json');
		assertFail(await mix[1].next(), 'send_message_return',
		    'not friends');
		assertFail(await mix[2].next(), 'send_message_return',
		    'message too long');
		assertError(await mix[3].next(), 'bad request');
		for (let i = 4; i < mix.length; i++)
			assertSuccess(await mix[i].next(), 'send_message_return',
			    `good ${i}`);

		// They did share a batch: one of at least 8 events (the ten
		// waited together; the plugs' batches carried one each).
		const after = await mainBatches();
		const big = (b) => b.hist.slice(3).reduce((x, y) => x + y, 0);
		assert.ok(big(after) > big(before),
		    `no batch of 8 or more: ${JSON.stringify([before, after])}`);

		// Only the good ones were stored, each once.
		const cb = await loggedIn('ws', b);
		assert.deepEqual(cb.backlog.map((p) => p.message).sort(),
		    Array.from({ length: mix.length - 4 },
		    (_, i) => `good ${i + 4}`).sort());
	});

	test('one connection\'s pipelined packets in a batch keep their ' +
	    'order, and a logout among them holds for the ones after it',
	    { timeout: 60000 }, async () => {
		const [a, b] = await newUsers(2);
		await befriend(a, b);
		const cb = await loggedIn('tcp', b);
		const ca = await loggedIn('ws', a);
		stopped = daemonWorkers();
		signalAll(stopped, 'SIGSTOP');
		for (let i = 0; i < 5; i++)
			ca.send({ command: 'send_message', src: a.id, dst: b.id,
			    message: `before ${i}` });
		ca.send({ command: 'logout', id: a.id });
		ca.send({ command: 'send_message', src: a.id, dst: b.id,
		    message: 'after logout' });
		await sleep(300);
		signalAll(stopped, 'SIGCONT');
		stopped = [];
		for (let i = 0; i < 5; i++)
			assertSuccess(await ca.next(), 'send_message_return');
		assertSuccess(await ca.next(), 'logout_return');
		assertFail(await ca.next(), 'send_message_return',
		    'not logged in');
		for (let i = 0; i < 5; i++)
			assert.equal((await cb.next()).message, `before ${i}`);
		// Nothing after the logout reached b: it would come live.
		await assert.rejects(cb.next(1000), /no packet/,
		    'a packet sent after the logout was delivered');
	});

	test('the packets of a batch whose worker died are refused in ' +
	    'order by the gate: an ack gets nothing, a send gets server error',
	    { timeout: 60000 }, async () => {
		const [a, b] = await newUsers(2);
		await befriend(a, b);
		const ca = await loggedIn('ws', a);
		// The ack and the send must travel together: they wait behind a
		// plug while the workers are stopped, then block in one worker
		// on a locked table, where it is killed.
		stopped = daemonWorkers();
		await quiet(stopped);
		signalAll(stopped, 'SIGSTOP');
		ca.send({ command: 'list_friend', id: a.id });
		await sleep(200);
		ca.send({ command: 'ack', msg_ids: ['123456789'] });
		ca.send({ command: 'send_message', src: a.id, dst: b.id,
		    message: 'its worker dies' });
		await sleep(200);
		const db = mariadb(stack.dir);
		let victim;
		try {
			await db.query('LOCK TABLES messages WRITE');
			signalAll(stopped, 'SIGCONT');
			const workers = stopped;
			stopped = [];
			assertSuccess(await ca.next(), 'list_friend_return');
			victim = await until(() => workers.find((pid) =>
			    !waitsInRead(pid)), 'the worker holding the ack and the send');
			process.kill(victim, 'SIGKILL');
			await until(() => !alive(victim), 'the worker to die');
			await db.query('UNLOCK TABLES');
		} finally {
			await db.end();
		}
		assertFail(await ca.next(20000), 'send_message_return',
		    'server error');
		await assert.rejects(ca.next(1000), /no packet/,
		    'the ack was answered');
	});

	test('a batch that a real InnoDB deadlock picks as its victim runs ' +
	    'again whole: the ack and the send in it are done once, and the ' +
	    'send answered success', { timeout: 60000 }, async () => {
		const [a, b] = await newUsers(2);
		await befriend(a, b);
		const cb = await loggedIn('ws', b, { ack: true });
		const ca = await loggedIn('tcp', a);
		assertSuccess(await ca.request({ command: 'send_message',
		    src: a.id, dst: b.id, message: 'to ack' }),
		    'send_message_return');
		const m = await cb.next();
		assert.equal(m.message, 'to ack');

		// b's ack and send must share a batch: behind a plug, with the
		// workers stopped (see above).
		stopped = daemonWorkers();
		await quiet(stopped);
		signalAll(stopped, 'SIGSTOP');
		cb.send({ command: 'list_friend', id: b.id });
		await sleep(200);
		cb.send({ command: 'ack', msg_ids: [m.msg_id] });
		cb.send({ command: 'send_message', src: b.id, dst: a.id,
		    message: 'after the deadlock' });
		await sleep(200);
		/*
		 * A heavy transaction of our own holds every friendship row:
		 * the batch's ack locks message m, then its friendship check
		 * waits for us; we then ask for m, and InnoDB rolls back the
		 * lighter of the two, the batch.
		 */
		const db = mariadb(stack.dir);
		try {
			await db.query('START TRANSACTION');
			await db.query('UPDATE friendships SET created_at = NOW()');
			const workers = stopped;
			signalAll(stopped, 'SIGCONT');
			stopped = [];
			assertSuccess(await cb.next(), 'list_friend_return');
			await until(() => workers.some((pid) => !waitsInRead(pid)),
			    'the batch to wait for our lock');
			await sleep(200);
			await db.query(`UPDATE messages SET acked_at = NOW(3) WHERE id = ${
			    BigInt(m.msg_id)}`);
			await db.query('ROLLBACK');
		} finally {
			await db.end();
		}
		assertSuccess(await cb.next(20000), 'send_message_return');
		const got = await ca.next();
		assert.equal(got.message, 'after the deadlock');
		await assert.rejects(ca.next(1000), /no packet/,
		    'the message came twice');
		const log = fs.readFileSync(path.join(stack.dir, 'log',
		    fs.readdirSync(path.join(stack.dir, 'log')).find((f) =>
		    f.endsWith('fcgi_app.log'))), 'utf8');
		assert.match(log, /Deadlock found/);
		assert.match(log, /deadlock: batch of 2 run again \(1\)/);
		// The ack was done too: a new ack-mode login gets nothing.
		cb.close();
		const again = await loggedIn('ws', b, { ack: true });
		assert.deepEqual(again.backlog.map((p) => p.message), []);
	});

	test('/api/health and /api/logon answer while every worker of the ' +
	    'daemon is stopped, and a login waiting meanwhile is answered ' +
	    'after', { timeout: 60000 }, async () => {
		const [u] = await newUsers(1);
		const c = await connect('ws');
		stopped = daemonWorkers();
		signalAll(stopped, 'SIGSTOP');
		c.send({ command: 'login', id: u.id, password: u.password });
		const health = await http('GET', '/api/health');
		assert.equal(health.status, 200);
		const r = await http('POST', '/api/logon', {
			headers: { 'Content-Type': 'application/json' },
			body: JSON.stringify({ command: 'logon',
			    username: uniqueName(), password: randomPassword() }),
		});
		assert.equal(r.status, 200);
		assertSuccess(r.json, 'logon_return');
		await assert.rejects(c.next(500), /no packet/,
		    'the login was answered while its workers were stopped');
		signalAll(stopped, 'SIGCONT');
		stopped = [];
		const p = await c.next();
		assertSuccess(p, 'login_return');
	});

	for (const run of [1, 2]) {
		test(`run ${run}: a worker killed while batches are in flight, ` +
		    'the recipient offline: every acknowledged message is in ' +
		    'storage and arrives at login; repeats keep their msg_id',
		    { timeout: 120000 }, async (t) => {
			const senders = 4;
			const perSender = 150;
			const [a, b] = await newUsers(2);
			await befriend(a, b);
			const conns = await Promise.all(Array.from(
			    { length: senders }, () => loggedIn('tcp', a)));
			await untilOffline(conns[0], a, b);
			const workersBefore = daemonWorkers();

			const acked = [];
			const failed = [];
			let answered = 0;
			let victim = null;
			const readers = conns.map(async (c, s) => {
				for (let i = 0; i < perSender; i++)
					c.send({ command: 'send_message', src: a.id,
					    dst: b.id, message: `k ${s} ${i}` });
				for (let i = 0; i < perSender; i++) {
					const p = await c.next(30000);
					answered++;
					if (p.status === 'success')
						acked.push(`k ${s} ${i}`);
					else {
						assertFail(p, 'send_message_return',
						    'server error');
						failed.push(`k ${s} ${i}`);
					}
					if (victim === null &&
					    answered >= senders * perSender / 3) {
						victim = busyWorker(workersBefore);
						process.kill(victim, 'SIGKILL');
					}
				}
			});
			await Promise.all(readers);
			assert.ok(victim !== null, 'no worker was killed');
			await until(() => !alive(victim), 'the victim to die');

			// b was offline throughout: what it gets comes from the
			// database alone.
			const cb = await loggedIn('ws', b);
			const byId = new Map();
			let duplicates = 0;
			for (const p of cb.backlog) {
				assert.equal(p.command, 'send_message');
				if (byId.has(p.msg_id)) {
					duplicates++;
					assert.equal(byId.get(p.msg_id), p.message);
				}
				byId.set(p.msg_id, p.message);
			}
			const got = new Set(byId.values());
			const missing = acked.filter((m) => !got.has(m));
			const sent = new Set([...acked, ...failed]);
			const foreign = [...got].filter((m) => !sent.has(m));
			const figures = `sent ${senders * perSender}, ` +
			    `acknowledged ${acked.length}, server error ` +
			    `${failed.length}, stored ${got.size}, duplicates ` +
			    `${duplicates}, missing ${missing.length}`;
			t.diagnostic(figures);
			console.log(`batches: ${figures}`);
			assert.deepEqual(missing, [], 'acknowledged, not stored');
			assert.deepEqual(foreign, []);
			assert.ok(duplicates === 0, 'a fetch sent a message twice');
			// Each sender's messages are stored in the order sent.
			for (let s = 0; s < senders; s++) {
				const order = cb.backlog.map((p) => p.message)
				    .filter((m) => m.startsWith(`k ${s} `))
				    .map((m) => Number(m.split(' ')[2]));
				assert.deepEqual(order, order.slice()
				    .sort((x, y) => x - y), `sender ${s} reordered`);
			}
		});
	}
});

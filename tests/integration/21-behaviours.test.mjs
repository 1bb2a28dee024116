// Behaviours docs/ARCHITECTURE.md promises that no other file tests:
// fetch paging past one page, `started` clearing presence after a daemon
// crash, `closed` for a login answered after its client left, nginx as
// the only network listener, one account on several connections and a
// login's fetch racing a live stream.
//
// They stop workers and kill the daemon, and look at the stack's
// processes, so they run on a stack of their own (tests/lib/own-stack.mjs)
// whose volume limits are out of the way.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';

import { closeAll, connect, frame, TRANSPORTS } from '../lib/client.mjs';
import { assertFail, assertSuccess } from '../lib/expect.mjs';
import {
	befriend, friendList, newUsers, untilOffline,
} from '../lib/friends.mjs';
import { canStartOwnStack, startOwnStack } from '../lib/own-stack.mjs';
import { alive, children, until } from '../lib/stack.mjs';
import { drain, login, loggedIn } from '../lib/users.mjs';
import {
	quiet, signalAll, socketInodes, workersOf,
} from '../lib/workers.mjs';

const skip = canStartOwnStack() ? false :
    'needs fcgi_app and push_daemon built (make SAN=1 all)';

let stack = null;

// How many messages to u wait undelivered in the database.
function undelivered(u) {
	return Number(execFileSync('mariadb', [
	    `--defaults-file=${path.join(stack.dir, 'my.cnf')}`, '--batch',
	    '--skip-column-names', 'chat', '-e',
	    'SELECT COUNT(*) FROM messages WHERE recipient_id = ' +
	    `${Number(u.id)} AND delivered_at IS NULL`]).toString().trim());
}

// The PIDs stack.sh recorded in the stack's pids/ directory.
function recordedPids() {
	const dir = path.join(stack.dir, 'pids');
	return fs.readdirSync(dir).filter((f) => f.endsWith('.pid')).map((f) =>
	    Number(fs.readFileSync(path.join(dir, f), 'utf8').split(' ')[0]))
	    .filter(alive);
}

// pid and every live process below it.
function withDescendants(pid) {
	const all = [pid];
	for (let i = 0; i < all.length; i++)
		all.push(...children(all[i]));
	return all;
}

// Every TCP socket in LISTEN (0A) and every bound UDP socket of the
// machine: [{proto, port, inode}].
function networkListeners() {
	const found = [];
	for (const proto of ['tcp', 'tcp6', 'udp', 'udp6']) {
		let text;
		try {
			text = fs.readFileSync(`/proc/net/${proto}`, 'utf8');
		} catch (e) {
			continue;	// no IPv6
		}
		for (const line of text.split('\n').slice(1)) {
			const f = line.trim().split(/\s+/);
			if (f.length < 10)
				continue;
			const port = parseInt(f[1].split(':')[1], 16);
			const listening = proto.startsWith('tcp') ? f[3] === '0A' :
			    port !== 0;
			if (listening)
				found.push({ proto, port, inode: f[9] });
		}
	}
	return found;
}

// Every TCP or UDP socket of the machine, whatever its state: inode ->
// "proto port state".
function inetSockets() {
	const all = new Map();
	for (const proto of ['tcp', 'tcp6', 'udp', 'udp6']) {
		let text;
		try {
			text = fs.readFileSync(`/proc/net/${proto}`, 'utf8');
		} catch (e) {
			continue;
		}
		for (const line of text.split('\n').slice(1)) {
			const f = line.trim().split(/\s+/);
			if (f.length >= 10)
				all.set(f[9], `${proto} ${parseInt(f[1].split(':')[1],
				    16)} ${f[3]}`);
		}
	}
	return all;
}

function comm(pid) {
	try {
		return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
	} catch (e) {
		return '?';
	}
}

// The workers holding the listener of run/<sock>.
const workersOfSock = (sock) => workersOf(stack.dir, stack.pid('fcgi_app'),
    sock);

// Polls u's friend list on c until friend f shows online.
async function untilOnline(c, u, f, timeout = 5000) {
	await until(async () => (await friendList(c, u))
	    .find((x) => x.id === f.id)?.online, `${f.id} online`, timeout);
}

// Writes one login packet and closes the socket as soon as its bytes
// have left for the kernel, before any answer can come.
function loginAndLeave(c, u) {
	const text = JSON.stringify({ command: 'login', id: u.id,
	    password: u.password });
	return new Promise((resolve) => {
		const done = () => { c.close(); resolve(); };
		if (c.transport === 'ws')
			c.ws.send(text, { binary: false }, done);
		else
			c.writeRaw(frame(text)).then(done);
	});
}

// The send_message packets from a to b in packets; anything else goes
// to others.
function messagesFrom(packets, a, b) {
	const msgs = [];
	const others = [];
	for (const p of packets) {
		if (p.command === 'send_message' && p.src === a.id &&
		    p.dst === b.id)
			msgs.push(p);
		else
			others.push(p);
	}
	return { msgs, others };
}

// ids increase strictly.
function assertIncreasing(msgs) {
	const ids = msgs.map((p) => BigInt(p.msg_id));
	for (let i = 1; i < ids.length; i++)
		assert.ok(ids[i] > ids[i - 1],
		    `msg_id ${ids[i]} after ${ids[i - 1]} (at ${i})`);
}

describe('behaviours', { skip }, () => {
	let stopped = [];

	before(async () => {
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

	for (const transport of TRANSPORTS) {
		test(`${transport}: 250 messages waiting for an offline ` +
		    'recipient all arrive at its login, in order, each once, ' +
		    'before the answer to its next packet, and nothing else; ' +
		    'a later login gets none of them again',
		    { timeout: 120000 }, async () => {
			const n = 250;
			const [a, b] = await newUsers(2);
			await befriend(a, b);
			const ca = await loggedIn('tcp', a);
			await untilOffline(ca, a, b);
			// Pipelined: all sent, then every answer read.
			for (let i = 0; i < n; i++)
				ca.send({ command: 'send_message', src: a.id,
				    dst: b.id, message: `page ${i}` });
			for (let i = 0; i < n; i++)
				assertSuccess(await ca.next(30000),
				    'send_message_return', `message ${i}`);
			assert.equal(undelivered(b), n, 'stored, waiting');

			const cb = await loggedIn(transport, b);
			const { msgs, others } = messagesFrom(cb.backlog, a, b);
			assert.deepEqual(others, [], 'other packets at login');
			assert.deepEqual(msgs.map((p) => p.message),
			    Array.from({ length: n }, (_, i) => `page ${i}`));
			assert.equal(new Set(msgs.map((p) => p.msg_id)).size, n,
			    'a msg_id came twice');
			assertIncreasing(msgs);

			// Every page's written reports are marked: a later login
			// finds nothing waiting.
			await until(() => undelivered(b) === 0,
			    'every fetched message marked delivered');
			const again = await loggedIn(transport, b);
			assert.deepEqual(again.backlog, [], 'sent again at login');
		});
	}

	test('after a kill -9 of the push daemon, `started` clears its ' +
	    'presence rows: a friend whose connection died with it shows ' +
	    'offline, and online again once it logs in', { timeout: 120000 },
	    async () => {
		// b on WebSocket, c on TCP: both die with the daemon.
		const [a, b, c] = await newUsers(3);
		await befriend(a, b);
		await befriend(a, c);
		let ca = await loggedIn('ws', a);
		const cb = await loggedIn('ws', b);
		const cc = await loggedIn('tcp', c);
		const friends = await friendList(ca, a);
		for (const f of [b, c])
			assert.equal(friends.find((x) => x.id === f.id)?.online,
			    true, `${f.id} online before the crash`);

		await stack.restartDaemon('KILL');
		for (const conn of [ca, cb, cc])
			await conn.closed(10000);

		// Nothing but `started` can remove rows whose connections had
		// no `closed`: without it they would stay online for good.
		ca = await loggedIn('tcp', a);
		await untilOffline(ca, a, b, 5000);
		await untilOffline(ca, a, c, 5000);
		const cb2 = await loggedIn('tcp', b);
		const cc2 = await loggedIn('ws', c);
		const after = await friendList(ca, a);
		assert.deepEqual([b, c].map((f) => after.find((x) => x.id ===
		    f.id)?.online), [true, true], 'online again after login');
		cb2.close();
		cc2.close();
		await untilOffline(ca, a, b, 5000);
		await untilOffline(ca, a, c, 5000);
	});

	for (const transport of TRANSPORTS) {
		test(`${transport}: a login whose client left before its ` +
		    'answer leaves the account offline: its `closed` is sent ' +
		    'once the answer is in', { timeout: 60000 }, async () => {
			const [a, b] = await newUsers(2);
			await befriend(a, b);
			const ca = await loggedIn('ws', a);
			await untilOffline(ca, a, b);

			// The login lane stopped: the login cannot be answered
			// before the client has gone.  The daemon reads the
			// client's end as a half-close and still answers: the
			// login binds, its fetch (which writes the presence row)
			// goes out, and writing login_return then fails (the
			// daemon's log: "closed: write error") while the fetch is
			// in flight.  The `closed` owed to that orphaned request
			// (push_daemon/conn.c, conn_notify_closed) is what takes
			// the row away again.
			const login = workersOfSock('login.sock');
			await quiet(login);
			stopped = login;
			signalAll(login, 'SIGSTOP');
			const cb = await connect(transport);
			await loginAndLeave(cb, b);
			signalAll(login, 'SIGCONT');
			stopped = [];
			// The login, then its closed (main lane), are handled.
			await quiet(login);
			await quiet(workersOfSock('fcgi.sock'));

			const end = Date.now() + 5000;
			while (Date.now() < end) {
				const me = (await friendList(ca, a))
				    .find((x) => x.id === b.id);
				assert.equal(me?.online, false,
				    `${b.id} shows online after its client left`);
				await new Promise((r) => setTimeout(r, 100));
			}
		});
	}

	test('nginx is the only network listener of the stack: on the two ' +
	    'ports it was given, and MariaDB has no network socket at all',
	    async () => {
		const owner = new Map();	// socket inode -> pid
		const procs = new Set();
		for (const pid of recordedPids())
			for (const p of withDescendants(pid))
				procs.add(p);
		for (const pid of procs)
			for (const inode of socketInodes(pid))
				owner.set(inode, pid);
		assert.ok(procs.size >= 4, `stack processes: ${[...procs]}`);

		const ours = networkListeners().filter((l) => owner.has(l.inode))
		    .map((l) => ({ ...l, pid: owner.get(l.inode),
		    comm: comm(owner.get(l.inode)) }));
		const notNginx = ours.filter((l) => l.comm !== 'nginx');
		assert.deepEqual(notNginx, [], 'network listeners not nginx\'s');
		assert.deepEqual([...new Set(ours.map((l) => l.port))].sort(),
		    [stack.httpPort, stack.tcpPort].sort(),
		    `nginx's listening ports: ${JSON.stringify(ours)}`);
		assert.ok(ours.every((l) => l.proto.startsWith('tcp')),
		    `a UDP socket: ${JSON.stringify(ours)}`);

		const db = withDescendants(stack.pid('mariadb'));
		const inet = inetSockets();
		const dbSockets = db.flatMap(socketInodes)
		    .filter((i) => inet.has(i)).map((i) => inet.get(i));
		assert.deepEqual(dbSockets, [], 'MariaDB\'s network sockets');
	});

	test('one account on both transports and four connections gets each ' +
	    'message on every connection exactly once; after a logout on one ' +
	    'the others still receive and it gets nothing', { timeout: 60000 },
	    async () => {
		const [a, b] = await newUsers(2);
		await befriend(a, b);
		const conns = [];
		for (const t of ['ws', 'tcp', 'ws', 'tcp'])
			conns.push(await loggedIn(t, b));
		const ca = await loggedIn('tcp', a);
		const n = 20;
		for (let i = 0; i < n; i++)
			assertSuccess(await ca.request({ command: 'send_message',
			    src: a.id, dst: b.id, message: `all ${i}` }),
			    'send_message_return');
		// drain(): the answer to a later packet comes after every live
		// packet the daemon had for the connection.
		for (const [k, c] of conns.entries()) {
			const { msgs, others } = messagesFrom(await drain(c, b), a, b);
			assert.deepEqual(others, [], `connection ${k}: others`);
			assert.deepEqual(msgs.map((p) => p.message),
			    Array.from({ length: n }, (_, i) => `all ${i}`),
			    `connection ${k} (${c.transport})`);
		}

		const [gone, ...rest] = conns;
		assertSuccess(await gone.request({ command: 'logout', id: b.id }),
		    'logout_return');
		for (let i = 0; i < n; i++)
			assertSuccess(await ca.request({ command: 'send_message',
			    src: a.id, dst: b.id, message: `rest ${i}` }),
			    'send_message_return');
		for (const [k, c] of rest.entries()) {
			const { msgs, others } = messagesFrom(await drain(c, b), a, b);
			assert.deepEqual(others, [], `connection ${k + 1}: others`);
			assert.deepEqual(msgs.map((p) => p.message),
			    Array.from({ length: n }, (_, i) => `rest ${i}`),
			    `connection ${k + 1} (${c.transport})`);
		}
		// The logged-out one: its next answer comes with nothing before.
		assertFail(await gone.request({ command: 'list_friend', id: b.id }),
		    'list_friend_return', 'not logged in');
	});

	for (const transport of TRANSPORTS) {
		test(`${transport}: a login racing a live stream gets every ` +
		    'message exactly once and in order, across what its fetch ' +
		    'sent and what came live', { timeout: 120000 }, async (t) => {
			const stored = 150;
			const [a, b] = await newUsers(2);
			await befriend(a, b);
			const ca = await loggedIn('tcp', a);
			await untilOffline(ca, a, b);
			for (let i = 0; i < stored; i++)
				ca.send({ command: 'send_message', src: a.id,
				    dst: b.id, message: `race ${i}` });
			for (let i = 0; i < stored; i++)
				assertSuccess(await ca.next(30000),
				    'send_message_return');

			// The stream goes on, in flights of 10, while b logs in,
			// and for another 100 messages once its login is answered.
			let answered = stored;
			let stopAt = Infinity;
			const sender = (async () => {
				for (let i = stored; i < stopAt; i += 10) {
					assert.ok(i < stored + 20000, 'the login never came');
					for (let j = i; j < i + 10; j++)
						ca.send({ command: 'send_message', src: a.id,
						    dst: b.id, message: `race ${j}` });
					for (let j = i; j < i + 10; j++) {
						assertSuccess(await ca.next(30000),
						    'send_message_return');
						answered++;
					}
				}
			})();
			await until(() => answered >= stored + 50,
			    'the stream to be going');
			const cb = await connect(transport);
			await login(cb, b);
			const atLogin = answered;
			stopAt = atLogin + 100;
			await sender;
			const total = answered;
			// Every live send was queued for b before the answer to
			// drain()'s packet.
			const got = await drain(cb, b);
			const { msgs, others } = messagesFrom(got, a, b);
			t.diagnostic(`login answered when ${atLogin} of ${total} ` +
			    'were acknowledged');
			assert.deepEqual(others, [], 'other packets');
			assert.deepEqual(msgs.map((p) => p.message),
			    Array.from({ length: total }, (_, i) => `race ${i}`));
			assertIncreasing(msgs);
		});
	}
});

// A FastCGI worker killed in the middle of a request: the client whose
// request it held gets a clear fail, nobody else notices, and the master
// forks a replacement (DESIGN.md section 3).
//
// No hook in the product makes this deterministic; the database does.  A
// root client holds LOCK TABLES users WRITE, so a logon's INSERT blocks
// inside the worker that took it.  That worker is found from /proc: an
// idle worker of the daemon's blocks in read() on its kept connection to
// fcgi.sock or login.sock, an idle /api/ worker in accept(), and an /api/ worker at work
// holds an accepted connection on api.sock; the one doing neither is
// ours.  It is killed with SIGKILL, the lock released.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, test } from 'node:test';

import { STACK_DIR, closeAll, connect, http } from '../lib/client.mjs';
import { assertFail, assertSuccess } from '../lib/expect.mjs';
import {
	HAVE_STACK_DIR, alive, children, mariadb, stackPid, until,
} from '../lib/stack.mjs';
import { befriend, newUsers, untilOffline } from '../lib/friends.mjs';
import {
	loggedIn, login, logon, randomPassword, uniqueName,
} from '../lib/users.mjs';

const skip = HAVE_STACK_DIR ? false :
    'needs CHAT_TEST_DIR: a stack started by scripts/stack.sh';

// A setting of the stack's chat.conf (the last line naming it wins), or def.
function confValue(name, def) {
	const conf = fs.readFileSync(path.join(STACK_DIR, 'chat.conf'), 'utf8');
	const re = new RegExp(`^\\s*${name}\\s*=\\s*(\\S+)\\s*$`, 'gm');
	let m, value = def;
	while ((m = re.exec(conf)) !== null)
		value = m[1];
	assert.ok(value !== undefined, `no ${name} in chat.conf`);
	return value;
}

const confSocket = (name) => confValue(name);

// Every worker the master keeps: the daemon's, the login lane's, /api/'s.
function workerCount() {
	return Number(confValue('workers', 4)) +
	    Number(confValue('login_workers', 2)) +
	    Number(confValue('api_workers', 2));
}

// Inodes of the accepted (not listening) sockets named sockPath.
function acceptedSockets(sockPath) {
	const inodes = new Set();
	const lines = fs.readFileSync('/proc/net/unix', 'utf8').split('\n');
	for (const line of lines.slice(1)) {
		const f = line.trim().split(/\s+/);
		// Num RefCount Protocol Flags Type St Inode Path
		if (f.length >= 8 && f[7] === sockPath && f[3] !== '00010000')
			inodes.add(f[6]);
	}
	return inodes;
}

// The socket inode fd of pid is, or null.
function fdInode(pid, fd) {
	try {
		const m = /^socket:\[(\d+)\]$/.exec(
		    fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
		return m ? m[1] : null;
	} catch (e) {
		return null;
	}
}

const SYS_READ = 0, SYS_ACCEPT = 43, SYS_ACCEPT4 = 288;

// Whether worker pid waits for work rather than doing some (x86-64 and
// arm64 numbers differ; these tests run on x86-64).
function waitsForWork(pid, kept, accepted) {
	let call;
	try {
		call = fs.readFileSync(`/proc/${pid}/syscall`, 'utf8').trim()
		    .split(/\s+/);
	} catch (e) {
		return true;		/* gone: not ours to kill */
	}
	const nr = Number(call[0]);
	if (Number.isNaN(nr))
		return false;		/* "running" */
	if (nr === SYS_ACCEPT || nr === SYS_ACCEPT4)
		return true;
	if (nr !== SYS_READ)
		return false;
	const inode = fdInode(pid, Number(call[1]));
	return kept.has(inode) && !accepted.has(inode);
}

// The workers (children of the master) busy with a request.
function busyWorkers(master) {
	const kept = new Set([...acceptedSockets(confSocket('fcgi_socket')),
	    ...acceptedSockets(confSocket('login_socket'))]);
	const accepted = acceptedSockets(confSocket('api_socket'));
	return children(master).filter((pid) =>
	    !waitsForWork(pid, kept, accepted));
}

// Runs start() (which sends one request that will write to table) while
// table is locked, kills the worker that took it, releases the lock.
// Returns the killed worker's PID.
async function killWorkerDuring(start, table = 'users') {
	const master = stackPid('fcgi_app');
	const workers = workerCount();
	// Quiet first: requests still running (the "closed" events of
	// connections that earlier tests closed) would blur which worker is
	// ours.
	let idlePolls = 0;
	await until(() => {
		const idle = children(master).length === workers &&
		    busyWorkers(master).length === 0;
		idlePolls = idle ? idlePolls + 1 : 0;
		return idlePolls >= 10;
	}, `${workers} idle workers`);
	const db = mariadb();
	let victim;
	try {
		await db.query(`LOCK TABLES ${table} WRITE`);
		await start();
		const busy = await until(() => {
			const b = busyWorkers(master);
			return b.length === 1 && b;
		}, 'one worker holding the request');
		victim = busy[0];
		process.kill(victim, 'SIGKILL');
		await until(() => !alive(victim) ||
		    !children(master).includes(victim), 'the worker to die');
		await db.query('UNLOCK TABLES');
	} finally {
		await db.end();
	}
	await until(() => {
		const kids = children(master);
		return kids.length === workers && !kids.includes(victim);
	}, `the master to have ${workers} workers again`);
	assert.ok(alive(master), 'the fcgi_app master died');
	return victim;
}

describe('worker crash', () => {
	afterEach(closeAll);

	for (const transport of ['ws', 'tcp']) {
		test(`${transport}: a worker killed during a logon gives that ` +
		    'client "server error", is replaced, and the next logon ' +
		    'succeeds', { timeout: 60000, skip }, async () => {
			const c = await connect(transport);
			const bystander = await connect(transport);
			await killWorkerDuring(async () => {
				c.send({ command: 'logon', username: uniqueName(),
				    password: randomPassword() });
			});
			assertFail(await c.next(), 'logon_return', 'server error');
			// The connection goes on, and so does everyone else's.
			await logon(c, uniqueName(), randomPassword());
			await logon(bystander, uniqueName(), randomPassword());
		});
	}

	// The fetch that follows login_return reads friend_results, which
	// login itself never touches: with that table locked, the login is
	// answered and its fetch is the one request that blocks.
	for (const transport of ['ws', 'tcp']) {
		test(`${transport}: a worker killed during a login's fetch: the ` +
		    'fetch runs again and what waited still arrives',
		    { timeout: 60000, skip }, async () => {
			const [a, b] = await newUsers(2);
			await befriend(a, b);
			const ca = await loggedIn('ws', a);
			// befriend() closed b's connection: until it is gone, the
			// message could go to it instead of waiting for the fetch.
			await untilOffline(ca, a, b);
			assertSuccess(await ca.request({ command: 'send_message',
			    src: a.id, dst: b.id, message: 'kept for b' }),
			    'send_message_return');
			const cb = await connect(transport);
			await killWorkerDuring(() => login(cb, b), 'friend_results');
			const p = await cb.next();
			assert.equal(p.command, 'send_message');
			assert.equal(p.message, 'kept for b');
			assert.equal(p.src, a.id);
		});
	}

	test('http: a worker killed during POST /api/logon gives that ' +
	    'request a 5xx, and the next one succeeds', { timeout: 60000, skip },
	    async () => {
		let pending;
		await killWorkerDuring(async () => {
			pending = http('POST', '/api/logon', {
				headers: { 'Content-Type': 'application/json' },
				body: JSON.stringify({ command: 'logon',
				    username: uniqueName(),
				    password: randomPassword() }),
			});
			pending.catch(() => {});
		});
		const r = await pending;
		assert.ok(r.status >= 500 && r.status < 600, `status ${r.status}`);
		const ok = await http('POST', '/api/logon', {
			headers: { 'Content-Type': 'application/json' },
			body: JSON.stringify({ command: 'logon',
			    username: uniqueName(), password: randomPassword() }),
		});
		assert.equal(ok.status, 200);
		assertSuccess(ok.json, 'logon_return');
	});
});

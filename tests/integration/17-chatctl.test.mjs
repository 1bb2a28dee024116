// chatctl (chatctl/chatctl.8), the administrator's tool, run against the
// stack tests/run.sh started: the program of the same build as its push
// daemon, on the stack's own chat.conf, so that it reaches the same
// database and the daemon's admin socket.  What it changes is checked the
// way a user would see it (a login over ws or tcp, a connection that
// closes) and, where only the database can tell, with SQL.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { closeAll, connect, STACK_DIR } from '../lib/client.mjs';
import { assertFail, assertSuccess } from '../lib/expect.mjs';
import { befriend, friendList } from '../lib/friends.mjs';
import { HAVE_STACK_DIR, sql, stackPid, until } from '../lib/stack.mjs';
import {
	drain, loggedIn, login, newUser, randomPassword, uniqueName, unknownId,
} from '../lib/users.mjs';

const TOP = path.resolve(path.dirname(fileURLToPath(import.meta.url)),
    '../..');

// The build the stack's push daemon runs from, else CHAT_TEST_BUILD.
function chatctlPath() {
	if (process.env.CHAT_TEST_BUILD)
		return path.resolve(TOP, process.env.CHAT_TEST_BUILD, 'chatctl');
	try {
		const exe = fs.readlinkSync(`/proc/${stackPid('push_daemon')}/exe`);
		return path.join(path.dirname(exe.replace(/ \(deleted\)$/, '')),
		    'chatctl');
	} catch (e) {
		return path.join(TOP, 'build/san/chatctl');
	}
}

const CHATCTL = HAVE_STACK_DIR ? chatctlPath() : '';
const CONF = HAVE_STACK_DIR ? path.join(STACK_DIR, 'chat.conf') : '';
const skip = !HAVE_STACK_DIR ? 'needs the stack directory (CHAT_TEST_DIR)' :
    !fs.existsSync(CHATCTL) ? `${CHATCTL} is not built (make all)` : false;

// Runs chatctl -f CONF args, input on its stdin; resolves {code, out, err}.
function chatctl(args, { input = '', conf = CONF } = {}) {
	return new Promise((resolve, reject) => {
		const child = spawn(CHATCTL, ['-f', conf, ...args],
		    { stdio: ['pipe', 'pipe', 'pipe'] });
		let out = '';
		let err = '';
		child.stdout.on('data', (d) => { out += d; });
		child.stderr.on('data', (d) => { err += d; });
		child.on('error', reject);
		child.on('close', (code) => resolve({ code, out, err }));
		// A command refused before it reads its stdin closes it: EPIPE.
		child.stdin.on('error', () => {});
		child.stdin.end(input);
	});
}

// chatctl that must succeed; resolves its stdout.
async function ok(args, opts) {
	const r = await chatctl(args, opts);
	assert.equal(r.code, 0, `chatctl ${args.join(' ')}: ${r.err}`);
	assert.doesNotMatch(r.err, /runtime error|Sanitizer/);
	return r.out;
}

// chatctl that must fail with status code and a message matching re.
async function refused(args, re, { code = 1, ...opts } = {}) {
	const r = await chatctl(args, opts);
	assert.equal(r.code, code, `chatctl ${args.join(' ')}: ${r.out} ${r.err}`);
	assert.match(r.err, re);
	assert.doesNotMatch(r.err, /runtime error|Sanitizer/);
	return r;
}

async function count(query) {
	return Number((await sql(query))[0][0]);
}

// The table chatctl printed, header dropped, as arrays of columns.
function rows(out) {
	return out.split('\n').slice(1).filter((l) => l !== '')
	    .map((l) => l.split('\t'));
}

// A login attempt on a new connection of transport; returns the answer.
async function tryLogin(user, password = user.password, transport = 'ws') {
	const c = await connect(transport);
	try {
		return await c.request({ command: 'login', id: user.id, password });
	} finally {
		c.close();
	}
}

describe('chatctl adduser', { skip }, () => {
	afterEach(closeAll);

	test('adduser prints the new id, which logs in on both transports with ' +
	    'the password read from stdin', async () => {
		const username = uniqueName('ctl');
		const password = randomPassword();
		const out = await ok(['adduser', username],
		    { input: `${password}\n` });
		assert.match(out, /^[1-9][0-9]*\n$/);
		const user = { id: out.trim(), username, password };
		for (const t of ['ws', 'tcp']) {
			const c = await connect(t);
			const p = await login(c, user);
			assert.equal(p.username, username);
			c.close();
		}
	});

	test('adduser reads the password twice from a terminal and does not ' +
	    'echo it', { timeout: 30000 }, async () => {
		const username = uniqueName('tty');
		const password = randomPassword();
		// script(1) gives chatctl a terminal; answer each prompt when seen.
		const child = spawn('script', ['-q', '-e', '-c',
		    `${CHATCTL} -f ${CONF} adduser ${username}`, '/dev/null'],
		    { stdio: ['pipe', 'pipe', 'pipe'] });
		let out = '';
		const seen = (re) => until(() => re.test(out), re.source);
		child.stdout.on('data', (d) => { out += d; });
		const done = new Promise((r) => child.on('close', r));
		await seen(/New password: $/);
		child.stdin.write(`${password}\n`);
		await seen(/Retype it: $/);
		child.stdin.write(`${password}\n`);
		assert.equal(await done, 0, out);
		assert.ok(!out.includes(password), `password echoed: ${out}`);
		const id = /^([1-9][0-9]*)\r?$/m.exec(out)?.[1];
		assert.ok(id, out);
		assertSuccess(await tryLogin({ id, password }), 'login_return');
	});

	test('adduser takes passwords of 8 and of 128 bytes', async () => {
		for (const password of ['12345678', 'p'.repeat(128)]) {
			const id = (await ok(['adduser', uniqueName('len')],
			    { input: `${password}\n` })).trim();
			assertSuccess(await tryLogin({ id, password }),
			    'login_return');
		}
	});

	test('adduser refuses an empty, a short or a long password, or none, ' +
	    'and makes no account', async () => {
		const username = uniqueName('bad');
		const cases = [
			['\n', /empty password/],
			['', /no password/],
			['1234567\n', /too short/],
			[`${'p'.repeat(129)}\n`, /too long/],
			[`${'p'.repeat(4000)}\n`, /too long/],
			['pass\u0000word12\n', /NUL/],
			[Buffer.from([0x70, 0x77, 0xff, 0xfe, 0x61, 0x62, 0x63, 0x64,
			    0x0a]), /UTF-8/],
		];
		for (const [input, re] of cases)
			await refused(['adduser', username], re, { input });
		assert.equal(await count('SELECT COUNT(*) FROM users WHERE ' +
		    `username = '${username}'`), 0);
	});

	test('adduser refuses a bad username', async () => {
		for (const name of ['', 'x'.repeat(33), 'tab\there'])
			await refused(['adduser', name], /bad username/,
			    { input: `${randomPassword()}\n` });
	});
});

describe('chatctl passwd', { skip }, () => {
	afterEach(closeAll);

	test('after passwd the old password fails and the new one works',
	    async () => {
		const user = await newUser();
		const fresh = randomPassword();
		const out = await ok(['passwd', user.id], { input: `${fresh}\n` });
		assert.match(out, new RegExp(`password of account ${user.id}`));
		assertFail(await tryLogin(user), 'login_return',
		    'wrong id or password');
		assertSuccess(await tryLogin(user, fresh, 'tcp'), 'login_return');
	});

	test('passwd refuses a short password and the old one still works',
	    async () => {
		const user = await newUser();
		await refused(['passwd', user.id], /too short/,
		    { input: 'short\n' });
		assertSuccess(await tryLogin(user), 'login_return');
	});

	test('passwd lets in an account locked out by failed logins',
	    async () => {
		const user = await newUser();
		for (let i = 0; i < 5; i++)
			await tryLogin(user, 'wrong password');
		assertFail(await tryLogin(user), 'login_return',
		    'too many attempts');
		const fresh = randomPassword();
		await ok(['passwd', user.id], { input: `${fresh}\n` });
		assertSuccess(await tryLogin(user, fresh), 'login_return');
	});

	test('passwd of an id nobody has fails', async () => {
		await refused(['passwd', unknownId()], /no account/,
		    { input: `${randomPassword()}\n` });
	});
});

describe('chatctl disable, enable, kick', { skip }, () => {
	afterEach(closeAll);

	test('disable closes the account\'s open connections at once, and ' +
	    'login answers account disabled', async () => {
		const user = await newUser();
		const other = await newUser();
		const cw = await loggedIn('ws', user);
		const ct = await loggedIn('tcp', user);
		const co = await loggedIn('ws', other);
		const out = await ok(['disable', user.id]);
		assert.match(out, /disabled; 2 connections closed/);
		await cw.closed(2000);
		await ct.closed(2000);
		assertFail(await tryLogin(user), 'login_return',
		    'account disabled');
		assertFail(await tryLogin(user, user.password, 'tcp'),
		    'login_return', 'account disabled');
		// Nobody else is touched.
		assert.deepEqual(await drain(co, other), []);
	});

	test('enable lets a disabled account log in again', async () => {
		const user = await newUser();
		await ok(['disable', user.id]);
		assert.match(await ok(['enable', user.id]), /enabled/);
		assertSuccess(await tryLogin(user), 'login_return');
		assert.match(await ok(['enable', user.id]), /was not disabled/);
	});

	test('kick closes every connection of the account, which may log in ' +
	    'again', async () => {
		const user = await newUser();
		const cw = await loggedIn('ws', user);
		const ct = await loggedIn('tcp', user);
		const out = await ok(['kick', user.id]);
		assert.match(out, /kicked; 2 connections closed/);
		await cw.closed(2000);
		await ct.closed(2000);
		const c = await loggedIn('ws', user);
		assert.equal(c.closeInfo, null);
	});

	test('kick of an account with no connection closes none', async () => {
		const user = await newUser();
		assert.match(await ok(['kick', user.id]), /0 connections closed/);
	});

	test('disable, enable and kick of an id nobody has fail', async () => {
		for (const cmd of ['disable', 'enable', 'kick'])
			await refused([cmd, unknownId()], /no account/);
	});
});

describe('chatctl online, friends, stats', { skip }, () => {
	afterEach(closeAll);

	test('online lists a logged-in account on node1 with its count of ' +
	    'connections, and not once it has gone', async () => {
		const user = await newUser();
		const c1 = await loggedIn('ws', user);
		const c2 = await loggedIn('tcp', user);
		const mine = async () => rows(await ok(['online']))
		    .filter((r) => r[1] === user.id);
		assert.deepEqual(await mine(), [['node1', user.id, '2',
		    user.username]]);
		c1.close();
		c2.close();
		await until(async () => (await mine()).length === 0,
		    'account still listed');
	});

	test('online and kick name connections of other nodes from the ' +
	    'presence table', async () => {
		const user = await newUser();
		await sql('INSERT INTO presence (node, conn_id, account_id, ' +
		    `ack_mode, transport) VALUES ('node2', 1, ${user.id}, 0, 'ws')`);
		try {
			assert.deepEqual(rows(await ok(['online']))
			    .filter((r) => r[1] === user.id),
			    [['node2', user.id, '1', user.username]]);
			const r = await chatctl(['kick', user.id]);
			assert.equal(r.code, 0, r.err);
			assert.match(r.out, /kicked; 0 connections closed/);
			assert.match(r.err, new RegExp(`account ${user.id} has 1 ` +
			    'connection on node node2: run chatctl kick there'));
		} finally {
			await sql('DELETE FROM presence WHERE node = \'node2\'');
		}
	});

	test('with no daemon on the admin socket, disable warns and still ' +
	    'disables, and online falls back on the presence table',
	    async () => {
		const conf = path.join(STACK_DIR, 'no-daemon.conf');
		fs.writeFileSync(conf, fs.readFileSync(CONF, 'utf8') +
		    `admin_socket = ${path.join(STACK_DIR, 'run/none.sock')}\n`,
		    { mode: 0o600 });
		try {
			const user = await newUser();
			const c = await loggedIn('ws', user);
			let r = await chatctl(['online'], { conf });
			assert.equal(r.code, 0, r.err);
			assert.match(r.err, /no push daemon listens on .*none\.sock/);
			assert.deepEqual(rows(r.out).filter((x) => x[1] === user.id),
			    [['node1', user.id, '1', user.username]]);
			r = await chatctl(['disable', user.id], { conf });
			assert.equal(r.code, 0, r.err);
			assert.match(r.out, /disabled; 0 connections closed/);
			assert.match(r.err, /no push daemon listens/);
			assertFail(await tryLogin(user), 'login_return',
			    'account disabled');
			assert.equal(c.closeInfo, null);
		} finally {
			fs.rmSync(conf);
		}
	});

	test('friends lists the friends of an account with their status and ' +
	    'whether they are online', async () => {
		const a = await newUser();
		const b = await newUser();
		const c = await newUser();
		await befriend(a, b);
		await befriend(a, c);
		// Logged in and drained: its presence row is made by then.
		await loggedIn('tcp', b);
		const want = [
			[b.id, 'normal', 'yes', b.username],
			[c.id, 'normal', 'no', c.username],
		].sort((x, y) => Number(x[0]) - Number(y[0]));
		// c's connections of befriend() may not have been seen closing.
		await until(async () => JSON.stringify(rows(await ok(['friends',
		    a.id]))) === JSON.stringify(want), 'friends of a');
		assert.deepEqual(rows(await ok(['friends', c.id])),
		    [[a.id, 'normal', 'no', a.username]]);
	});

	test('stats counts accounts, messages stored and waiting, and who is ' +
	    'online', async () => {
		const parse = (out) => Object.fromEntries(out.trim().split('\n')
		    .map((l) => l.split(': ')).map(([k, v]) => [k, Number(v)]));
		const before = parse(await ok(['stats']));
		for (const k of ['accounts', 'accounts_disabled', 'friendships',
		    'friend_requests', 'messages_stored', 'messages_waiting',
		    'online_accounts', 'online_connections', 'node_connections',
		    'node_accounts'])
			assert.ok(Number.isInteger(before[k]), `${k} in stats`);
		const a = await newUser();
		const b = await newUser();
		await befriend(a, b);
		const ca = await loggedIn('ws', a);
		assertSuccess(await ca.request({ command: 'send_message',
		    src: a.id, dst: b.id, message: 'waits for b' }),
		    'send_message_return');
		await until(async () => parse(await ok(['stats']))
		    .online_accounts >= 1, 'a online');
		const after = parse(await ok(['stats']));
		assert.ok(after.accounts >= before.accounts + 2);
		assert.ok(after.messages_stored >= before.messages_stored + 1);
		assert.ok(after.messages_waiting >= 1);
		assert.ok(after.node_connections >= 1);
	});

	test('friends of an id nobody has fails', async () => {
		await refused(['friends', unknownId()], /no account/);
	});
});

describe('chatctl deluser', { skip }, () => {
	afterEach(closeAll);

	test('deluser erases the account, its friendships, requests and ' +
	    'messages, closes its connections, and its id cannot log in',
	    async () => {
		const a = await newUser();
		const b = await newUser();
		const c = await newUser();
		await befriend(a, b);
		await befriend(c, a);
		const ca = await loggedIn('ws', a);
		// A message each way, waiting; a request from a to a stranger.
		const stranger = await newUser();
		assertSuccess(await ca.request({ command: 'send_message',
		    src: a.id, dst: b.id, message: 'to b' }),
		    'send_message_return');
		const cb = await loggedIn('tcp', b);
		assertSuccess(await cb.request({ command: 'send_message',
		    src: b.id, dst: a.id, message: 'to a' }),
		    'send_message_return');
		assert.equal((await ca.next()).command, 'send_message');
		cb.close();
		assertSuccess(await ca.request({ command: 'add_friend',
		    src: a.id, dst: stranger.id, status: '0' }),
		    'add_friend_return');

		const out = await ok(['deluser', a.id]);
		assert.match(out, /deleted with 2 friends, 1 friend request, 2 messages; 1 connection closed/);
		await ca.closed(2000);
		assertFail(await tryLogin(a), 'login_return',
		    'wrong id or password');
		const id = a.id;
		for (const q of [
			`SELECT COUNT(*) FROM users WHERE id = ${id}`,
			'SELECT COUNT(*) FROM friendships WHERE account_id = ' +
			    `${id} OR friend_id = ${id}`,
			`SELECT COUNT(*) FROM friend_requests WHERE from_id = ${id} ` +
			    `OR to_id = ${id}`,
			`SELECT COUNT(*) FROM friend_results WHERE to_id = ${id} ` +
			    `OR src = ${id} OR dst = ${id}`,
			`SELECT COUNT(*) FROM messages WHERE sender_id = ${id} ` +
			    `OR recipient_id = ${id}`,
			`SELECT COUNT(*) FROM presence WHERE account_id = ${id}`,
		])
			assert.equal(await count(q), 0, q);
		// The friends lose it from their lists and go on as before.
		const cb2 = await loggedIn('tcp', b);
		assert.deepEqual(await friendList(cb2, b), []);
		await refused(['friends', id], /no account/);
		await refused(['deluser', id], /no account/);
	});

	test('deluser of an id nobody has fails', async () => {
		await refused(['deluser', unknownId()], /no account/);
	});
});

describe('chatctl purge', { skip }, () => {
	afterEach(closeAll);

	test('purge deletes the messages delivered before the date, and ' +
	    'keeps those delivered since and those still waiting', async () => {
		const a = await newUser();
		const b = await newUser();
		await befriend(a, b);
		const ca = await loggedIn('ws', a);
		for (const message of ['old delivered', 'new delivered',
		    'old waiting'])
			assertSuccess(await ca.request({ command: 'send_message',
			    src: a.id, dst: b.id, message }), 'send_message_return');
		const ids = (await sql('SELECT id FROM messages WHERE sender_id = ' +
		    `${a.id} ORDER BY id`)).map((r) => r[0]);
		assert.equal(ids.length, 3);
		const [oldDelivered, newDelivered, oldWaiting] = ids;
		await sql('UPDATE messages SET created_at = \'2020-01-01\', ' +
		    `delivered_at = '2020-01-02' WHERE id = ${oldDelivered}`);
		await sql('UPDATE messages SET created_at = \'2020-01-01\', ' +
		    `delivered_at = NOW() WHERE id = ${newDelivered}`);
		await sql('UPDATE messages SET created_at = \'2020-01-01\' ' +
		    `WHERE id = ${oldWaiting}`);
		const out = await ok(['purge', '--delivered-before', '2021-01-01']);
		assert.match(out, /^[1-9][0-9]* messages? delivered before 2021-01-01 00:00:00 UTC deleted\n$/);
		const left = (await sql('SELECT id FROM messages WHERE id IN ' +
		    `(${ids.join(',')}) ORDER BY id`)).map((r) => r[0]);
		assert.deepEqual(left, [newDelivered, oldWaiting]);
		// The one still waiting reaches b.
		const cb = await connect('tcp');
		await login(cb, b);
		const got = await drain(cb, b);
		assert.deepEqual(got.filter((p) => p.command === 'send_message')
		    .map((p) => p.msg_id), [oldWaiting]);
		assert.match(await ok(['purge', '--delivered-before=2021-01-01']),
		    /^0 messages delivered/);
	});

	test('purge refuses a bad date, and wants --delivered-before',
	    async () => {
		for (const d of ['yesterday', '2021-13-01', '2021-02-30',
		    '2021-1-1', '2021-01-01T25:00', '2021-01-01 10:00:00+02'])
			await refused(['purge', '--delivered-before', d],
			    /bad date/);
		await refused(['purge', '--before', '2021-01-01'],
		    /--delivered-before/, { code: 2 });
		await refused(['purge'], /usage/, { code: 2 });
	});
});

describe('chatctl bad input', { skip }, () => {
	test('an unknown command, or none, prints the usage and exits 2',
	    async () => {
		await refused(['frobnicate'], /unknown command: frobnicate[^]*usage/,
		    { code: 2 });
		await refused([], /usage/, { code: 2 });
	});

	test('a command with too many or too few arguments exits 2',
	    async () => {
		await refused(['kick'], /usage: .*kick ID/, { code: 2 });
		await refused(['kick', '10000', '10001'], /usage/, { code: 2 });
		await refused(['online', 'x'], /usage/, { code: 2 });
	});

	test('a bad id is refused by every command that takes one',
	    async () => {
		for (const cmd of ['passwd', 'disable', 'enable', 'deluser', 'kick',
		    'friends'])
			for (const id of ['abc', '0', '-1', '010000', '10000x', ''])
				await refused([cmd, id], /bad id/,
				    { input: `${randomPassword()}\n` });
	});

	test('a configuration file that is missing or bad is named',
	    async () => {
		await refused(['stats'], /nowhere\.conf: No such file/,
		    { conf: path.join(STACK_DIR, 'nowhere.conf') });
		const bad = path.join(STACK_DIR, 'bad-chatctl.conf');
		fs.writeFileSync(bad, 'no_such_setting = 1\n');
		try {
			await refused(['stats'], /bad-chatctl\.conf:1: unknown setting/,
			    { conf: bad });
		} finally {
			fs.rmSync(bad);
		}
	});
});

// The daemon's side of chatctl (push_daemon/admin.c), spoken to directly.
describe('push daemon admin socket', { skip }, () => {
	const sock = HAVE_STACK_DIR ? path.join(STACK_DIR, 'run/admin.sock') : '';

	// Sends lines; resolves what came back once the daemon has answered
	// each (or closed).
	function admin(lines, sockPath = sock) {
		return new Promise((resolve, reject) => {
			const s = net.connect(sockPath);
			let got = '';
			s.on('data', (d) => {
				got += d;
				const ends = got.match(/^(ok|error)\b.*$/gm) || [];
				if (ends.length >= lines.length)
					s.end();
			});
			s.on('error', reject);
			s.on('close', () => resolve(got));
			s.write(lines.map((l) => `${l}\n`).join(''));
		});
	}

	test('it sits beside ws.sock with mode 0600', () => {
		const st = fs.statSync(sock);
		assert.ok(st.isSocket());
		assert.equal(st.mode & 0o777, 0o600);
	});

	test('it answers online, stats and kick, and refuses what it does ' +
	    'not know', async () => {
		const got = await admin(['online', 'stats', 'kick 900000000',
		    'kick abc', 'kick', 'disable 900000000', 'enable 900000000',
		    'enable x', 'bogus', `kick ${'1'.repeat(200)}`]);
		const lines = got.split('\n').filter((l) => !/^[0-9]+ [0-9]+$/.test(l));
		assert.equal(lines[0].split(' ')[0], 'ok');
		assert.match(lines[1], /^ok connections [0-9]+ accounts [0-9]+$/);
		assert.deepEqual(lines.slice(2), ['ok 0', 'error bad account',
		    'error bad account', 'ok 0', 'ok', 'error bad account',
		    'error unknown command', 'error line too long', '']);
	});

	test('after disable the daemon closes a connection whose login ' +
	    'binds the account, as one that raced the disable would, until ' +
	    'enable', async () => {
		// The database still lets it in: only the daemon refuses.
		const user = await newUser();
		assert.equal(await admin([`disable ${user.id}`]), 'ok 0\n');
		const c = await connect('tcp');
		c.send({ command: 'login', id: user.id, password: user.password });
		await c.closed(5000);
		assert.ok(!c.packets.some((p) => p.status === 'success'),
		    JSON.stringify(c.packets));
		assert.equal(await admin([`enable ${user.id}`]), 'ok\n');
		assertSuccess(await tryLogin(user, user.password, 'tcp'),
		    'login_return');
	});

	test('another user is refused even where the file would let it in',
	    { timeout: 20000 }, async () => {
		// The stack's folder and its run/ are 0700: let nobody through
		// for this test.
		const runDir = path.dirname(sock);
		const dirMode = fs.statSync(STACK_DIR).mode & 0o7777;
		const runMode = fs.statSync(runDir).mode & 0o7777;
		fs.chmodSync(STACK_DIR, dirMode | 0o711);
		fs.chmodSync(runDir, runMode | 0o711);
		fs.chmodSync(sock, 0o666);
		try {
			// It only reads: the daemon answers at once, unasked.
			const script = 'const s = require("net").connect(process.argv[1]);' +
			    's.on("data", (d) => process.stdout.write(d));' +
			    's.on("error", (e) => console.log(e.code));';
			const out = await new Promise((resolve, reject) => {
				execFile('setpriv', ['--reuid=65534', '--regid=65534',
				    '--clear-groups', process.execPath, '-e', script, sock],
				    (e, stdout, stderr) => e ? reject(new Error(stderr)) :
				    resolve(stdout));
			});
			assert.equal(out, 'error permission denied\n');
			const log = fs.readFileSync(path.join(STACK_DIR,
			    'log/3-push_daemon.log'), 'utf8');
			assert.match(log, /admin: refused uid 65534/);
		} finally {
			fs.chmodSync(sock, 0o600);
			fs.chmodSync(runDir, runMode);
			fs.chmodSync(STACK_DIR, dirMode);
		}
	});
});

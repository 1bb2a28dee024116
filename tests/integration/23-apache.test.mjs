// deploy/apache/chat.conf in front of a stack of this file's own, applied
// as INSTALL.md ("Apache in front instead of nginx") says to a scratch copy
// of the machine's own /etc/apache2, stock 000-default site and all:
// a2enmod, the site file, a2ensite, a global ServerName, then
// `apachectl configtest`, and that Apache started as a private process on
// a free loopback port.  Through it: /api/health, the web client, one
// chat (register over /api/, log in over /ws, befriend, a message), and
// what a client must not pass: its own X-Real-IP (to the daemon or to
// /api/'s REMOTE_ADDR), identity headers posing as the CHAT_* params, a
// non-loopback peer at /metrics.
//
// Debian's apachectl reads APACHE_CONFDIR (the layout) and APACHE_ENVVARS
// (the pid file, run, lock and log folders: here a file that sources the
// copy's own envvars and points those into the scratch folder); a2enmod
// also writes state under APACHE_STATE_DIRECTORY.  So nothing under /etc,
// /var/run or /var/lib is touched.  Apache itself is started as
// `apache2 -D FOREGROUND` rather than `apachectl start`, which detaches
// (and, on a host running systemd, hands the start to systemctl).
// As root it drops to www-data, as in production, so the stack's sockets
// are given to that group (socket_group) and their folder opened to it.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import nodeHttp from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { closeAll, connect, freshAddress, useStack } from '../lib/client.mjs';
import { assertFail, assertSuccess } from '../lib/expect.mjs';
import { fcgiProbe } from '../lib/fcgi-probe.mjs';
import { canStartOwnStack, startOwnStack } from '../lib/own-stack.mjs';
import { freePorts, listening, run, startServer, substitute }
    from '../lib/server.mjs';
import { until } from '../lib/stack.mjs';
import { drain, login, randomPassword, uniqueName } from '../lib/users.mjs';

const TOP = path.resolve(path.dirname(fileURLToPath(import.meta.url)),
    '../..');
const RECIPE = path.join(TOP, 'deploy/apache/chat.conf');
const MODULES = ['proxy_fcgi', 'proxy_http', 'headers'];
const CHAT_PARAMS = ['CHAT_CONN_ID', 'CHAT_ACCOUNT', 'CHAT_ACK_MODE',
    'CHAT_TRANSPORT', 'CHAT_NODE', 'CHAT_REMOTE_ADDR', 'CHAT_EVENT'];
// Low per-address limits, each test using addresses of its own.
const SETS = ['socket_group=www-data', 'connections_per_address=1',
    'registrations_per_hour=2'];

// Headers that could be taken for the daemon's params or a proxy's word.
const FORGED = {
	'Chat-Account': '10000',
	'CHAT_ACCOUNT': '10000',
	'Chat-Conn-Id': '1',
	'CHAT_CONN_ID': '1',
	'Chat-Event': 'packet',
	'Chat-Transport': 'ws',
	'Chat-Ack-Mode': '1',
	'Chat-Node': 'node1',
	'Chat-Remote-Addr': '10.0.0.1',
	'X-Real-IP': '10.0.0.1',
	'X-Forwarded-For': '10.0.0.1',
};

function why() {
	if (!['apache2', 'apachectl', 'a2enmod', 'a2ensite', 'a2enconf']
	    .every((c) => fs.existsSync(`/usr/sbin/${c}`)) ||
	    !fs.existsSync('/etc/apache2/apache2.conf'))
		return 'needs Debian\'s apache2 (make deps)';
	// A copy of a host's own sites would listen on its ports too.
	const sites = fs.readdirSync('/etc/apache2/sites-enabled');
	if (sites.join() !== '000-default.conf' ||
	    fs.existsSync('/etc/apache2/mods-enabled/ssl.load'))
		return 'this machine\'s /etc/apache2 is not Debian\'s stock ' +
		    'one (other sites, or mod_ssl, enabled)';
	if (!canStartOwnStack())
		return 'needs fcgi_app and push_daemon built (make SAN=1 all)';
	if (process.getuid() !== 0)
		return 'needs root: Apache drops to www-data as in production';
	return false;
}

// One request to Apache from a given loopback address; node:http, as
// fetch can choose neither the source address nor the Host header.
function request(port, method, urlPath, { from, headers = {}, body } = {}) {
	return new Promise((resolve, reject) => {
		const req = nodeHttp.request({ host: '127.0.0.1', port, method,
		    path: urlPath, localAddress: from, headers, timeout: 10000 },
		    (res) => {
			let text = '';
			res.setEncoding('utf8');
			res.on('data', (d) => { text += d; });
			res.on('end', () => {
				let json;
				try {
					json = JSON.parse(text);
				} catch (e) {
					json = undefined;
				}
				resolve({ status: res.statusCode,
				    headers: res.headers, text, json });
			});
		});
		req.on('timeout', () => req.destroy(new Error('timed out')));
		req.on('error', reject);
		req.end(body);
	});
}

// A non-loopback address of this host, to connect from to 127.0.0.1 (the
// target stays loopback), or null.
function otherLocalAddress() {
	for (const list of Object.values(os.networkInterfaces()))
		for (const a of list ?? [])
			if (a.family === 'IPv4' && !a.internal)
				return a.address;
	return null;
}

describe('Apache in front (deploy/apache/chat.conf)', { skip: why() }, () => {
	let stack = null;
	let apache = null;
	let probe = null;
	let dir;
	let port;
	let env;

	const conf = (...p) => path.join(dir, 'apache2', ...p);
	const get = (urlPath, opts) => request(port, 'GET', urlPath, opts);
	const apachectl = (...args) => run('apachectl', args, { env });

	// Registers over POST /api/logon from the address `from`.
	async function register(from, headers = {}) {
		const password = randomPassword();
		const r = await request(port, 'POST', '/api/logon', { from,
		    headers: { 'Content-Type': 'application/json', ...headers },
		    body: JSON.stringify({ command: 'logon',
		    username: uniqueName('apache'), password }) });
		return { r, id: r.json?.id, password };
	}

	// The recipe for this host: the test's port, the stack's sockets
	// (api, the workers' socket, may be another), the scratch web root.
	function site({ extra = '', api } = {}) {
		const socks = path.join(stack.dir, 'run');
		const text = substitute(fs.readFileSync(RECIPE, 'utf8'), [
			[/<VirtualHost \*:80>/, `<VirtualHost *:${port}>${extra}`],
			[/\/run\/chat\/api\.sock/g, api ?? `${socks}/api.sock`],
			[/\/run\/chat\/ws\.sock/g, `${socks}/ws.sock`],
			[/\/usr\/local\/share\/chat\/web/g, `${dir}/www`],
		], RECIPE);
		assert.doesNotMatch(text, /\/run\/chat\//);
		return text;
	}

	// The stock layout with the recipe applied: INSTALL.md's steps.
	function applyRecipe() {
		const sh = (cmd, ...args) => {
			const r = run(cmd, args, { env });
			assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.out}`);
		};
		sh('a2enmod', '-q', ...MODULES);
		fs.writeFileSync(conf('sites-available', 'chat.conf'), site());
		sh('a2ensite', '-q', 'chat');
		// The host's name resolves to 127.0.0.1 here, which Apache
		// would make 000-default's name: INSTALL.md says to set one.
		fs.writeFileSync(conf('conf-available', 'servername.conf'),
		    'ServerName host.invalid\n');
		sh('a2enconf', '-q', 'servername');

		// The same site under another name, its workers' socket the
		// probe's, with the kind of mistake a host's configuration may
		// hold elsewhere: client headers made into CHAT_* variables.
		const hostile = '\n\tSetEnvIf Chat-Account "^(.+)$" CHAT_ACCOUNT=$1' +
		    '\n\tSetEnvIf Chat-Conn-Id "^(.+)$" CHAT_CONN_ID=$1' +
		    '\n\tSetEnvIf X-Real-IP "^(.+)$" CHAT_REMOTE_ADDR=$1' +
		    '\n\tSetEnv CHAT_EVENT packet';
		fs.writeFileSync(conf('sites-available', 'chat-probe.conf'),
		    substitute(site({ extra: hostile, api: `${dir}/probe.sock` }), [
			[/ServerName chat\.example\.org/, 'ServerName probe.invalid'],
			[/^\s*ServerAlias .*\n/m, ''],
			[/chat-(error|access)\.log/g, 'probe-$1.log'],
		    ], RECIPE));
		sh('a2ensite', '-q', 'chat-probe');

		// A free loopback port for Debian's 80, in ports.conf and in
		// 000-default, as the comment in ports.conf says.
		const ports = conf('ports.conf');
		fs.writeFileSync(ports, substitute(fs.readFileSync(ports, 'utf8'),
		    [[/^Listen 80$/m, `Listen 127.0.0.1:${port}`]], ports));
		const dflt = conf('sites-available', '000-default.conf');
		fs.writeFileSync(dflt, substitute(fs.readFileSync(dflt, 'utf8'),
		    [[/<VirtualHost \*:80>/, `<VirtualHost *:${port}>`]], dflt));
	}

	before(async () => {
		stack = await startOwnStack({ sets: SETS });
		// The sockets' folder, for Apache's www-data (socket_group).
		const gid = Number(run('getent', ['group', 'www-data'])
		    .out.split(':')[2]);
		for (const d of [stack.dir, path.join(stack.dir, 'run')]) {
			fs.chownSync(d, 0, gid);
			fs.chmodSync(d, 0o710);
		}
		dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chat-apache.'));
		fs.chmodSync(dir, 0o755);
		const cp = run('cp', ['-a', '/etc/apache2', conf()]);
		assert.equal(cp.status, 0, cp.out);
		for (const d of ['www', 'run', 'lock', 'log', 'state'])
			fs.mkdirSync(path.join(dir, d));
		fs.cpSync(path.join(TOP, 'web'), path.join(dir, 'www'),
		    { recursive: true });
		fs.writeFileSync(path.join(dir, 'envvars'), [
			`. ${conf('envvars')}`,
			`export APACHE_PID_FILE=${dir}/run/apache2.pid`,
			`export APACHE_RUN_DIR=${dir}/run`,
			`export APACHE_LOCK_DIR=${dir}/lock`,
			`export APACHE_LOG_DIR=${dir}/log`, ''].join('\n'));
		env = { ...process.env, APACHE_CONFDIR: conf(),
		    APACHE_ENVVARS: path.join(dir, 'envvars'),
		    APACHE_STATE_DIRECTORY: path.join(dir, 'state') };
		[port] = await freePorts(1);
		probe = await fcgiProbe(path.join(dir, 'probe.sock'));
		applyRecipe();
		const t = apachectl('configtest');
		assert.equal(t.status, 0, t.out);
		apache = startServer('/bin/sh', ['-c', '. "$APACHE_ENVVARS" && ' +
		    'exec /usr/sbin/apache2 -d "$APACHE_CONFDIR" -D FOREGROUND'],
		    { env, log: path.join(dir, 'log', 'foreground.log') });
		await listening(port, apache);
		// connect('ws') now goes through Apache.
		useStack(port, stack.tcpPort);
	});

	after(async () => {
		closeAll();
		if (apache !== null)
			await apache.stop();
		if (probe !== null)
			await probe.close();
		if (stack !== null)
			await stack.remove();
		if (dir)
			fs.rmSync(dir, { recursive: true, force: true });
	});

	afterEach(closeAll);

	test('apachectl configtest passes, and the chat site sits beside the ' +
	    'stock 000-default, which stays the default', () => {
		const t = apachectl('configtest');
		assert.equal(t.status, 0, t.out);
		assert.match(t.out, /Syntax OK/);
		const s = apachectl('-S');
		assert.equal(s.status, 0, s.out);
		assert.match(s.out, new RegExp('default server host\\.invalid ' +
		    `\\(${conf('sites-enabled', '000-default.conf')}:\\d+\\)`),
		    s.out);
		assert.match(s.out, /namevhost chat\.example\.org .*\n\s+alias localhost\n\s+alias 127\.0\.0\.1\n/,
		    s.out);
		const mods = apachectl('-M');
		for (const m of ['proxy_module', 'proxy_fcgi_module',
		    'proxy_http_module', 'headers_module', 'authz_host_module'])
			assert.match(mods.out, new RegExp(`\\b${m}\\b`), mods.out);
		assert.doesNotMatch(mods.out, /remoteip_module/);
	});

	test('GET /api/health through Apache answers 200 with every part ok',
	    async () => {
		const r = await get('/api/health');
		assert.equal(r.status, 200, r.text);
		assert.deepEqual(r.json, { status: 'ok', database: 'ok',
		    push_daemon: 'ok', workers: 'ok' });
		assert.match(r.headers['content-type'], /application\/json/);
	});

	test('another name reaches 000-default, not the chat site', async () => {
		const r = await get('/api/health',
		    { headers: { Host: 'other.invalid' } });
		assert.equal(r.status, 404, r.text);
		assert.equal(r.json, undefined, r.text);
	});

	test('GET / serves the web client as it is in web/', async () => {
		const r = await get('/');
		assert.equal(r.status, 200);
		assert.match(r.headers['content-type'], /^text\/html/);
		assert.equal(r.text, fs.readFileSync(path.join(TOP, 'web',
		    'index.html'), 'utf8'));
		const js = await get('/app.js');
		assert.equal(js.status, 200);
		assert.match(js.headers['content-type'], /^text\/javascript/);
	});

	test('two accounts registered over /api/ log in over /ws, become ' +
	    'friends, and a message reaches the other', async () => {
		const [a, b] = [await register(freshAddress()),
		    await register(freshAddress())];
		for (const u of [a, b]) {
			assert.equal(u.r.status, 200, u.r.text);
			assertSuccess(u.r.json, 'logon_return');
		}
		const ca = await connect('ws', { from: freshAddress() });
		await login(ca, a);
		await drain(ca, a);
		const cb = await connect('ws', { from: freshAddress() });
		await login(cb, b);
		await drain(cb, b);
		assertSuccess(await ca.request({ command: 'add_friend', src: a.id,
		    dst: b.id, status: '0' }), 'add_friend_return');
		const ask = await cb.next();
		assert.deepEqual([ask.command, ask.src], ['add_friend', a.id]);
		assertSuccess(await cb.request({ command: 'add_friend_confirm',
		    src: a.id, dst: b.id, status: '0',
		    message: 'confirm_two_way' }), 'add_friend_confirm_return');
		assertSuccess(await ca.next(), 'add_friend_confirm_return');
		assertSuccess(await ca.request({ command: 'send_message',
		    src: a.id, dst: b.id, message: 'through Apache' }),
		    'send_message_return');
		const m = await cb.next();
		assert.deepEqual([m.command, m.src, m.dst, m.message],
		    ['send_message', a.id, b.id, 'through Apache']);
	});

	test('a client\'s own X-Real-IP never reaches the daemon: it counts ' +
	    'and logs the peer Apache sees', async () => {
		const u = await register(freshAddress());
		assertSuccess(u.r.json, 'logon_return');
		const from = freshAddress();
		const other = freshAddress();
		const c1 = await connect('ws', { from,
		    headers: { 'X-Real-IP': other } });
		await login(c1, u);
		// connections_per_address is 1: the same peer claiming a new
		// address is its second connection all the same...
		const c2 = await connect('ws', { from,
		    headers: { 'X-Real-IP': freshAddress() } });
		assertFail(await c2.next(), 'error', 'too many connections');
		await c2.closed();
		// ...and another peer claiming the first one's is its own first.
		const c3 = await connect('ws', { from: other,
		    headers: { 'X-Real-IP': from } });
		await login(c3, u);
		c1.close();
		const log = path.join(stack.dir, 'log', '3-push_daemon.log');
		await until(() => fs.readFileSync(log, 'utf8')
		    .includes(`account ${u.id} (ws ${from}): closed:`),
		    `the daemon's log naming ${from} for ${u.id}`);
	});

	test('/api/logon counts registrations per peer, whatever X-Real-IP ' +
	    'and X-Forwarded-For claim', async () => {
		const from = freshAddress();
		const claims = () => ({ 'X-Real-IP': freshAddress(),
		    'X-Forwarded-For': freshAddress() });
		// registrations_per_hour is 2.
		for (let i = 0; i < 2; i++)
			assertSuccess((await register(from, claims())).r.json,
			    'logon_return');
		assertFail((await register(from, claims())).r.json,
		    'logon_return', 'too many attempts');
		assertSuccess((await register(freshAddress())).r.json,
		    'logon_return');
	});

	test('identity headers cannot pose as an account on /api/: a logon ' +
	    'with them makes a new account, a login packet is refused',
	    async () => {
		const earlier = await register(freshAddress());
		assertSuccess(earlier.r.json, 'logon_return');
		const forged = { ...FORGED, 'Chat-Account': earlier.id,
		    'CHAT_ACCOUNT': earlier.id };
		const u = await register(freshAddress(), forged);
		assertSuccess(u.r.json, 'logon_return');
		assert.ok(BigInt(u.id) > BigInt(earlier.id),
		    `id ${u.id} after ${earlier.id}`);
		const c = await connect('ws', { from: freshAddress() });
		await login(c, u);
		const r = await request(port, 'POST', '/api/logon', {
		    from: freshAddress(), headers: { ...forged,
		    'Content-Type': 'application/json' },
		    body: JSON.stringify({ command: 'login', id: earlier.id,
		    password: earlier.password }) });
		assert.equal(r.status, 400, r.text);
		assert.equal(r.json.command, 'error', r.text);
	});

	test('the FastCGI params Apache sends hold every CHAT_* blank, even ' +
	    'where the configuration sets one from a header', async () => {
		const from = freshAddress();
		for (const [method, urlPath] of [['POST', '/api/logon'],
		    ['GET', '/metrics']]) {
			const r = await request(port, method, urlPath, { from,
			    headers: { Host: 'probe.invalid', ...FORGED },
			    body: method === 'POST' ? '{}' : undefined });
			assert.equal(r.status, 200, r.text);
			const p = r.json;
			assert.deepEqual(Object.keys(p).filter((k) =>
			    k.startsWith('CHAT_')).sort(), [...CHAT_PARAMS].sort(),
			    r.text);
			for (const name of CHAT_PARAMS)
				assert.equal(p[name], '', `${name}: ${r.text}`);
			assert.deepEqual(p._dups, [], r.text);
			// A header is only ever an HTTP_* param; one with an
			// underscore in its name is not passed at all.
			assert.equal(p.HTTP_CHAT_ACCOUNT, '10000', r.text);
			assert.equal(p.REMOTE_ADDR, from, r.text);
			assert.equal(p.REQUEST_METHOD, method, r.text);
			assert.equal(p.SCRIPT_NAME, urlPath, r.text);
		}
	});

	test('/metrics is served to loopback peers, with or without ' +
	    'forwarding headers', async () => {
		for (const headers of [{}, { 'X-Forwarded-For': '192.0.2.7',
		    'X-Real-IP': '192.0.2.7' }]) {
			const r = await get('/metrics', { from: freshAddress(),
			    headers });
			assert.equal(r.status, 200, r.text);
			assert.match(r.text, /^chat_push_daemon_up 1$/m);
		}
	});

	test('the recipe lets loopback peers alone at /metrics', () => {
		const m = /<Location "\/metrics">([\s\S]*?)<\/Location>/
		    .exec(fs.readFileSync(RECIPE, 'utf8'));
		assert.ok(m, 'no <Location "/metrics">');
		assert.deepEqual(m[1].match(/^\s*Require\b.*$/gm)
		    .map((l) => l.trim()), ['Require ip 127.0.0.0/8 ::1']);
	});

	const outside = otherLocalAddress();
	test('a peer with a non-loopback address is refused /metrics, ' +
	    'whatever it claims, and served the rest', {
		skip: outside ? false :
		    'this host has no non-loopback address to connect from',
	}, async () => {
		for (const headers of [{}, { 'X-Forwarded-For': '127.0.0.1',
		    'X-Real-IP': '127.0.0.1' }]) {
			const r = await get('/metrics', { from: outside, headers });
			assert.equal(r.status, 403, r.text);
			assert.doesNotMatch(r.text, /chat_/);
		}
		assert.equal((await get('/api/health', { from: outside })).status,
		    200);
	});
});

// INSTALL.md's nginx steps, as written, on a copy of this machine's real
// Debian /etc/nginx that keeps its stock default site (the port's
// default_server) and gets a PHP site, with the files `make install` put
// into a scratch DESTDIR: nginx -t passes, the documented health check
// answers ok, and a chat goes through the installed site and stream port on
// both transports, while the other sites still answer for their own names.
//
// The blocks run are those after "<!-- steps: nginx -->" and "<!-- steps:
// check -->" in INSTALL.md, with /etc/nginx and /usr/local moved into the
// scratch folder.  What a private run must change besides (ports 80 and
// 7700 to free loopback ones, /run/chat/ to the test stack's sockets,
// nginx's pid and logs, its workers' user, the web root moved with
// /usr/local) is changed after the steps, in prepareForTest(), never in
// the steps.
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import nodeHttp from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, afterEach, before, describe, test } from 'node:test';

import { STACK_DIR, closeAll, useStack } from '../lib/client.mjs';
import { assertSuccess } from '../lib/expect.mjs';
import { befriend } from '../lib/friends.mjs';
import { buildDir } from '../lib/own-stack.mjs';
import { freePorts } from '../lib/server.mjs';
import { HAVE_STACK_DIR, alive, until } from '../lib/stack.mjs';
import { loggedIn, newUser } from '../lib/users.mjs';

const TOP = path.resolve(path.dirname(fileURLToPath(import.meta.url)),
    '../..');
const NGINX = '/usr/sbin/nginx';
const skip = !HAVE_STACK_DIR ? 'needs the stack directory (CHAT_TEST_DIR)' :
    !fs.existsSync(NGINX) || !fs.existsSync('/etc/nginx/nginx.conf') ?
    'no Debian nginx (make deps)' :
    !fs.existsSync('/etc/nginx/sites-available/default') ?
    '/etc/nginx has no stock default site' : false;

// The shell block that follows marker in INSTALL.md.
function installBlock(marker) {
	const text = fs.readFileSync(path.join(TOP, 'INSTALL.md'), 'utf8');
	const at = text.indexOf(`<!-- steps: ${marker} -->`);
	assert.notEqual(at, -1, `INSTALL.md has no "steps: ${marker}" block`);
	const m = /```sh\n([^]*?)```/.exec(text.slice(at));
	assert.ok(m, `no sh block after "steps: ${marker}"`);
	return m[1];
}

function sh(script, opts = {}) {
	return spawnSync('bash', ['-euo', 'pipefail', '-c', script],
	    { encoding: 'utf8', ...opts });
}

function replaceIn(file, pairs) {
	let text = fs.readFileSync(file, 'utf8');
	for (const [from, to] of pairs)
		text = text.replace(from, to);
	fs.writeFileSync(file, text);
}

function get(port, p, host) {
	return new Promise((resolve, reject) => {
		nodeHttp.get({ host: '127.0.0.1', port, path: p, agent: false,
		    headers: host ? { Host: host } : {} }, (res) => {
			let body = '';
			res.setEncoding('utf8');
			res.on('data', (d) => { body += d; });
			res.on('end', () => resolve({ status: res.statusCode, body }));
		}).on('error', reject);
	});
}

// The next message c is written, past any notice before it.
async function nextMessage(c) {
	for (;;) {
		const p = await c.next();
		if (p.command === 'send_message')
			return p;
	}
}

const PHP_SITE = `# A PHP site of the host, as Debian's php-fpm documents it.
server {
	listen 80;
	listen [::]:80;
	server_name php.example.org;
	root @ROOT@;
	index index.php index.html;
	location ~ \\.php$ {
		include snippets/fastcgi-php.conf;
		fastcgi_pass unix:/run/php/php8.2-fpm.sock;
	}
}
`;

describe('INSTALL.md: nginx on a Debian layout with other sites', { skip },
    () => {
	let work;
	let etc;
	let destdir;
	let ports;
	let nginx;

	before(async () => {
		work = fs.mkdtempSync(path.join(os.tmpdir(), 'chat-install.'));
		etc = path.join(work, 'etc/nginx');
		destdir = path.join(work, 'root');
		ports = await freePorts(2);
		const build = buildDir();
		execFileSync('make', ['-s', '--no-print-directory', '-C', TOP,
		    'install', `DESTDIR=${destdir}`,
		    `B=${path.relative(TOP, build)}`,
		    ...(path.basename(build) === 'san' ? ['SAN=1'] : [])],
		    { stdio: ['ignore', 'pipe', 'pipe'] });
		fs.mkdirSync(path.dirname(etc), { recursive: true });
		execFileSync('cp', ['-a', '/etc/nginx', etc]);
		// Debian links sites-enabled/default to its absolute path.
		for (const f of fs.readdirSync(path.join(etc, 'sites-enabled'))) {
			const link = path.join(etc, 'sites-enabled', f);
			const target = fs.readlinkSync(link);
			if (target.startsWith('/etc/nginx/')) {
				fs.unlinkSync(link);
				fs.symlinkSync(target.replace('/etc/nginx/', `${etc}/`),
				    link);
			}
		}
		fs.mkdirSync(path.join(work, 'php'));
		fs.writeFileSync(path.join(work, 'php', 'index.html'), 'the PHP site\n');
		fs.writeFileSync(path.join(etc, 'sites-available/php'),
		    PHP_SITE.replace('@ROOT@', path.join(work, 'php')));
		fs.symlinkSync(path.join(etc, 'sites-available/php'),
		    path.join(etc, 'sites-enabled/php'));
	});

	after(async () => {
		if (nginx && nginx.exitCode === null) {
			const done = new Promise((r) => nginx.on('exit', r));
			nginx.kill('SIGTERM');
			await done;
		}
		if (work)
			fs.rmSync(work, { recursive: true, force: true });
	});
	afterEach(closeAll);

	// The steps, with only /etc/nginx and /usr/local moved.
	function runSteps(dir = etc) {
		const steps = installBlock('nginx')
		    .replaceAll('/etc/nginx', dir)
		    .replaceAll('/usr/local', path.join(destdir, 'usr/local'));
		return sh(steps);
	}

	// What a private run needs besides: ports, sockets, pid, logs, user.
	function prepareForTest(dir = etc) {
		const [httpPort, tcpPort] = ports;
		const run = `${path.join(STACK_DIR, 'run')}/`;
		const listen = [/^\s*listen \[::\]:\d+[^;]*;\n/gm, ''];
		replaceIn(path.join(dir, 'nginx.conf'), [
		    [/(^|\s)\/etc\/nginx\//gm, `$1${dir}/`],
		    [/^user .*;$/m, 'user root;'],
		    [/^pid .*;$/m, `pid ${work}/nginx.pid;`],
		    [/\/var\/log\/nginx\//g, `${work}/`],
		]);
		// /usr/local moved into DESTDIR, as for the steps.
		for (const f of ['default', 'php', 'chat'])
			replaceIn(path.join(dir, 'sites-available', f), [listen,
			    [/^(\s*)listen 80\b/gm, `$1listen 127.0.0.1:${httpPort}`],
			    [/\/run\/chat\//g, run],
			    [/(\s)\/usr\/local\//g, `$1${destdir}/usr/local/`]]);
		replaceIn(path.join(dir, 'chat-stream.conf'), [listen,
		    [/^(\s*)listen 7700\b/m, `$1listen 127.0.0.1:${tcpPort}`],
		    [/\/run\/chat\//g, run]]);
	}

	function nginxTest(dir = etc) {
		return spawnSync(NGINX, ['-t', '-c',
		    path.join(dir, 'nginx.conf')], { encoding: 'utf8' });
	}

	test('the steps run, and nginx -t passes with the default and PHP ' +
	    'sites still enabled', () => {
		const r = runSteps();
		assert.equal(r.status, 0, r.stderr);
		const conf = fs.readFileSync(path.join(etc, 'nginx.conf'), 'utf8');
		assert.match(conf, /worker_connections 19900;/);
		assert.ok(conf.indexOf('include /etc/nginx/modules-enabled') <
		    conf.indexOf('chat-stream.conf'), 'stream before its module');
		assert.deepEqual(fs.readdirSync(path.join(etc, 'sites-enabled'))
		    .sort(), ['chat', 'default', 'php']);
		prepareForTest();
		const t = nginxTest();
		assert.equal(t.status, 0, t.stderr);
		assert.match(t.stderr, /test is successful/);
	});

	test('the include placed first in nginx.conf fails nginx -t: the ' +
	    'steps put it where the stream module is loaded', () => {
		const other = path.join(work, 'etc/nginx-first');
		execFileSync('cp', ['-a', etc, other]);
		replaceIn(path.join(other, 'nginx.conf'), [
		    [/^include \S*chat-stream.conf;\n/m, ''],
		    [/^/, `include ${etc}/chat-stream.conf;\n`]]);
		const t = nginxTest(other);
		assert.notEqual(t.status, 0);
		assert.match(t.stderr, /unknown directive "stream"/);
	});

	test('the documented check answers ok; the other sites keep their ' +
	    'names; a chat crosses the installed site and port', async () => {
		const [httpPort, tcpPort] = ports;
		nginx = spawn(NGINX, ['-c',
		    path.join(etc, 'nginx.conf'), '-g', 'daemon off;'],
		    { stdio: ['ignore', 'ignore', 'pipe'] });
		let err = '';
		nginx.stderr.on('data', (d) => { err += d; });
		await until(async () => {
			try {
				return (await get(httpPort, '/api/health')).status > 0;
			} catch (e) {
				assert.equal(nginx.exitCode, null, `nginx exited: ${err}`);
				return false;
			}
		}, 'the installed nginx', 15000);

		const check = installBlock('check').replaceAll('http://127.0.0.1/',
		    `http://127.0.0.1:${httpPort}/`);
		const r = sh(check);
		assert.equal(r.status, 0, r.stderr);
		assert.deepEqual(JSON.parse(r.stdout), { status: 'ok',
		    database: 'ok', push_daemon: 'ok', workers: 'ok' });

		// The web client from make install's copy, the metrics from
		// loopback; the PHP and default sites answer their own names.
		const page = await get(httpPort, '/', '127.0.0.1');
		assert.equal(page.status, 200);
		assert.equal(page.body, fs.readFileSync(path.join(TOP, 'web',
		    'index.html'), 'utf8'));
		const metrics = await get(httpPort, '/metrics', 'localhost');
		assert.equal(metrics.status, 200);
		assert.match(metrics.body, /^chat_push_daemon_up 1$/m);
		assert.equal((await get(httpPort, '/', 'php.example.org')).body,
		    'the PHP site\n');
		// Debian's default page (nginx's, or Apache's where apache2 is
		// installed too: both land in /var/www/html).
		const other = await get(httpPort, '/', 'www.example.com');
		assert.equal(other.status, 200);
		assert.match(other.body, /Welcome to nginx|Debian Default Page/);
		assert.notEqual(other.body, page.body);
		assert.equal((await get(httpPort, '/api/health',
		    'www.example.com')).status, 404);

		useStack(httpPort, tcpPort);
		const a = await newUser();
		const b = await newUser();
		await befriend(a, b);
		const ca = await loggedIn('ws', a);
		const cb = await loggedIn('tcp', b);
		assertSuccess(await ca.request({ command: 'send_message',
		    src: a.id, dst: b.id, message: 'through the installed site' }),
		    'send_message_return');
		assert.equal((await nextMessage(cb)).message,
		    'through the installed site');
		assertSuccess(await cb.request({ command: 'send_message',
		    src: b.id, dst: a.id, message: 'and its port 7700' }),
		    'send_message_return');
		assert.equal((await nextMessage(ca)).message, 'and its port 7700');
		assert.ok(alive(nginx.pid));
	});

	test('make uninstall takes away what make install put', () => {
		execFileSync('make', ['-s', '--no-print-directory', '-C', TOP,
		    'uninstall', `DESTDIR=${destdir}`],
		    { stdio: ['ignore', 'pipe', 'pipe'] });
		const left = sh(`find ${destdir} -type f -o -type l`).stdout;
		assert.equal(left, '');
	});
});

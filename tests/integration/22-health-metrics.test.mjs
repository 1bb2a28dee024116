// /api/health and /metrics (docs/ARCHITECTURE.md, "Health and metrics";
// INSTALL.md, "Monitoring").  Health names each part it checked (the
// database, the push daemon, the daemon's workers) and answers 503 when
// one failed; /metrics is the Prometheus text format, through nginx, for
// loopback clients only.  The tests that stop or kill parts run on a
// stack of their own.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import nodeHttp from 'node:http';
import path from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';

import { HTTP, closeAll, http } from '../lib/client.mjs';
import { assertSuccess } from '../lib/expect.mjs';
import { befriend, newUsers } from '../lib/friends.mjs';
import { canStartOwnStack, startOwnStack } from '../lib/own-stack.mjs';
import { alive, children, until } from '../lib/stack.mjs';
import { loggedIn } from '../lib/users.mjs';

const OK = { status: 'ok', database: 'ok', push_daemon: 'ok', workers: 'ok' };

// Every family /metrics must hold on a working stack.
const NAMES = [
	'chat_push_daemon_up', 'chat_database_up', 'chat_connections',
	'chat_connections_opened_total', 'chat_packets_received_total',
	'chat_packets_sent_total', 'chat_daemon_fails_total',
	'chat_accounts_online', 'chat_upstream_waiting',
	'chat_upstream_in_flight', 'chat_pool_connections',
	'chat_pool_connections_lost_total', 'chat_batches_failed_total',
	'chat_batch_size', 'chat_messages_stored', 'chat_messages_delivered',
	'chat_messages_waiting', 'chat_worker_restarts_total',
	'chat_db_query_duration_seconds',
];

// The samples of a body: "name{labels}" -> value.
function samples(text) {
	const m = new Map();
	for (const line of text.split('\n')) {
		if (line === '' || line.startsWith('#'))
			continue;
		const i = line.lastIndexOf(' ');
		m.set(line.slice(0, i), Number(line.slice(i + 1)));
	}
	return m;
}

// The sum of every sample of name (all its label sets).
function total(m, name) {
	let n = 0;
	for (const [k, v] of m)
		if (k === name || k.startsWith(`${name}{`))
			n += v;
	return n;
}

async function metrics() {
	const r = await http('GET', '/metrics');
	assert.equal(r.status, 200, r.text);
	return samples(r.text);
}

// GET path from a given local address, straight with node:http (fetch
// cannot choose its source address).
function getFrom(host, port, urlPath, localAddress, headers = {}) {
	return new Promise((resolve, reject) => {
		const req = nodeHttp.get({ host, port, path: urlPath,
		    localAddress, headers, timeout: 10000 }, (res) => {
			let text = '';
			res.setEncoding('utf8');
			res.on('data', (d) => { text += d; });
			res.on('end', () => resolve({ status: res.statusCode,
			    text }));
		});
		req.on('timeout', () => req.destroy(new Error('timed out')));
		req.on('error', reject);
	});
}

function promtool() {
	return spawnSync('promtool', ['--version'], { stdio: 'ignore' })
	    .status === 0;
}

describe('health and metrics of a working stack', () => {
	afterEach(closeAll);

	test('GET /api/health answers 200 naming every part ok', async () => {
		const r = await http('GET', '/api/health');
		assert.equal(r.status, 200, r.text);
		assert.deepEqual(r.json, OK);
		assert.match(r.headers.get('content-type'), /application\/json/);
	});

	test('GET /metrics through nginx answers 200 text/plain with every ' +
	    'metric, each with HELP and TYPE', async () => {
		const r = await http('GET', '/metrics');
		assert.equal(r.status, 200, r.text);
		assert.match(r.headers.get('content-type'),
		    /^text\/plain; version=0\.0\.4/);
		for (const name of NAMES) {
			assert.match(r.text, new RegExp(`^# HELP ${name} `, 'm'),
			    name);
			assert.match(r.text, new RegExp(`^# TYPE ${name} `, 'm'),
			    name);
		}
		const m = samples(r.text);
		assert.equal(m.get('chat_push_daemon_up'), 1);
		assert.equal(m.get('chat_database_up'), 1);
		assert.ok(m.get('chat_pool_connections{lane="main",state="idle"}') +
		    m.get('chat_pool_connections{lane="main",state="busy"}') >= 1);
	});

	test('the counters grow as messages are sent and delivered', async () => {
		const [a, b] = await newUsers(2);
		await befriend(a, b);
		const ca = await loggedIn('ws', a);
		const cb = await loggedIn('tcp', b);
		const m0 = await metrics();
		assert.ok(m0.get('chat_connections{transport="ws"}') >= 1);
		assert.ok(m0.get('chat_connections{transport="tcp"}') >= 1);
		assert.ok(m0.get('chat_accounts_online') >= 2);
		const N = 5;
		for (let i = 0; i < N; i++) {
			assertSuccess(await ca.request({ command: 'send_message',
			    src: a.id, dst: b.id, message: `m${i}` }),
			    'send_message_return');
			const p = await cb.next();
			assert.equal(p.message, `m${i}`);
		}
		// The last delivery mark is written after the socket took it.
		const m1 = await until(async () => {
			const m = await metrics();
			return m.get('chat_messages_delivered') >=
			    m0.get('chat_messages_delivered') + N ? m : null;
		}, 'the deliveries counted');
		const grew = (k, n) => assert.ok(m1.get(k) - m0.get(k) >= n,
		    `${k}: ${m0.get(k)} -> ${m1.get(k)}`);
		grew('chat_packets_received_total{transport="ws"}', N);
		grew('chat_packets_sent_total{transport="ws"}', N);
		grew('chat_packets_sent_total{transport="tcp"}', N);
		grew('chat_messages_stored', N);
		grew('chat_batch_size_count{lane="main"}', N);
		grew('chat_batch_size_sum{lane="main"}', N);
		grew('chat_db_query_duration_seconds_count{kind="commit"}', N);
		grew('chat_db_query_duration_seconds_count{kind="statement"}', N);
		assert.equal(m1.get('chat_batch_size_bucket{lane="main",le="+Inf"}'),
		    m1.get('chat_batch_size_count{lane="main"}'));
	});

	test('promtool check metrics passes on the body', {
		skip: promtool() ? false : 'needs promtool (Debian prometheus)',
	}, async () => {
		const r = await http('GET', '/metrics');
		const out = spawnSync('promtool', ['check', 'metrics'],
		    { input: r.text, encoding: 'utf8' });
		assert.equal(out.status, 0, `${out.stdout}${out.stderr}`);
		assert.equal(out.stdout + out.stderr, '');
	});

	test('/metrics from 127.0.0.2 (loopback) is served, with or without ' +
	    'an X-Forwarded-For', async () => {
		for (const headers of [{}, { 'X-Forwarded-For': '192.0.2.7',
		    'X-Real-IP': '192.0.2.7' }]) {
			const r = await getFrom(HTTP.host, HTTP.port, '/metrics',
			    '127.0.0.2', headers);
			assert.equal(r.status, 200, r.text);
			assert.match(r.text, /^chat_push_daemon_up 1$/m);
		}
	});

	test('HEAD and POST /metrics: HEAD answers 200, POST 405', async () => {
		assert.equal((await http('HEAD', '/metrics')).status, 200);
		assert.equal((await http('POST', '/metrics', { body: 'x' })).status,
		    405);
	});
});

describe('health and metrics when parts fail', {
	skip: canStartOwnStack() ? false :
	    'needs fcgi_app and push_daemon built (make SAN=1 all)',
}, () => {
	let stack = null;

	before(async () => {
		stack = await startOwnStack();
	});

	after(async () => {
		if (stack !== null)
			await stack.remove();
	});

	const nginxConf = () => path.join(stack.dir, 'nginx', 'nginx.conf');

	test('nginx -T shows /metrics allowed to loopback only', () => {
		const r = spawnSync('nginx', ['-T', '-q', '-p',
		    path.join(stack.dir, 'nginx') + '/', '-c', nginxConf(),
		    '-e', 'stderr'], { encoding: 'utf8' });
		assert.equal(r.status, 0, r.stderr);
		const m = /location = \/metrics \{([^}]*)\}/.exec(r.stdout);
		assert.ok(m, 'no location = /metrics');
		assert.match(m[1],
		    /allow 127\.0\.0\.0\/8;\s+allow ::1;\s+deny all;/);
	});

	/*
	 * Only loopback is ever a target here: that nginx refuses /metrics
	 * to any other peer is shown by its configuration above, and the
	 * loopback cases by the first part (127.0.0.2, forged headers).
	 */

	test('a worker killed shows in chat_worker_restarts_total and ' +
	    'chat_pool_connections_lost_total', async () => {
		const m0 = await metrics();
		const kids = children(stack.pid('fcgi_app'));
		assert.ok(kids.length > 0);
		// Any worker: the daemon's lose their kept connection.
		process.kill(kids[0], 'SIGKILL');
		const m1 = await until(async () => {
			const m = await metrics();
			return total(m, 'chat_worker_restarts_total') >
			    total(m0, 'chat_worker_restarts_total') ? m : null;
		}, 'the restart counted');
		assert.equal(total(m1, 'chat_worker_restarts_total') -
		    total(m0, 'chat_worker_restarts_total'), 1);
		await until(async () => (await http('GET', '/api/health'))
		    .status === 200, 'health ok again');
	});

	test('with the push daemon killed, /api/health answers 503 at once ' +
	    'naming push_daemon, and /metrics says chat_push_daemon_up 0',
	    async () => {
		const pid = stack.pid('push_daemon');
		process.kill(pid, 'SIGKILL');
		await until(() => !alive(pid), 'the daemon gone');
		const t0 = Date.now();
		const r = await http('GET', '/api/health');
		assert.ok(Date.now() - t0 < 2000, `${Date.now() - t0} ms`);
		assert.equal(r.status, 503, r.text);
		assert.deepEqual(r.json, { status: 'unavailable', database: 'ok',
		    push_daemon: 'unavailable', workers: 'unknown' });
		const m = await metrics();
		assert.equal(m.get('chat_push_daemon_up'), 0);
		assert.equal(m.get('chat_database_up'), 1);
		await stack.restartDaemon();
		await until(async () => (await http('GET', '/api/health'))
		    .status === 200, 'health ok after the restart');
	});

	test('with the push daemon stopped (SIGSTOP), /api/health answers ' +
	    '503 within about a second', async () => {
		const pid = stack.pid('push_daemon');
		process.kill(pid, 'SIGSTOP');
		try {
			const t0 = Date.now();
			const r = await http('GET', '/api/health');
			assert.ok(Date.now() - t0 < 3000, `${Date.now() - t0} ms`);
			assert.equal(r.status, 503, r.text);
			assert.equal(r.json.push_daemon, 'unavailable');
		} finally {
			process.kill(pid, 'SIGCONT');
		}
		await until(async () => (await http('GET', '/api/health'))
		    .status === 200, 'health ok after SIGCONT');
	});

	test('with MariaDB killed, /api/health answers 503 naming the ' +
	    'database, and /metrics says chat_database_up 0', async () => {
		const pid = stack.pid('mariadb');
		process.kill(pid, 'SIGKILL');
		await until(() => !alive(pid), 'MariaDB gone');
		const r = await http('GET', '/api/health');
		assert.equal(r.status, 503, r.text);
		assert.deepEqual(r.json, { status: 'unavailable',
		    database: 'unavailable', push_daemon: 'ok', workers: 'ok' });
		const m = await metrics();
		assert.equal(m.get('chat_database_up'), 0);
		assert.equal(m.get('chat_push_daemon_up'), 1);
		assert.equal(m.get('chat_messages_stored'), undefined);
	});
});

// The cluster that tests/cluster/run.sh started with scripts/cluster.sh:
// where its two chat nodes listen, a root client on each Galera node, the
// failure subcommands (kill and start Galera nodes, Redis, chat nodes),
// and the tally that every failure test reports and checks.
//
//   CHAT_CLUSTER_JSON  the cluster.json scripts/cluster.sh wrote
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { connect, useStack } from './client.mjs';
import { login, drain } from './users.mjs';

const TOP = path.resolve(path.dirname(fileURLToPath(import.meta.url)),
    '../..');

export const CLUSTER_FILE = process.env.CHAT_CLUSTER_JSON || '';
export const HAVE_CLUSTER = CLUSTER_FILE !== '' &&
    fs.existsSync(CLUSTER_FILE);
export const cluster = HAVE_CLUSTER ?
    JSON.parse(fs.readFileSync(CLUSTER_FILE, 'utf8')) : null;

// Every connection and request from here on goes to chat node n (1, 2).
export function useNode(n) {
	const node = cluster.nodes[n - 1];
	useStack(node.http_port, node.tcp_port);
}

// A connection to chat node n.  connect() reads the address when called,
// so the node is chosen before any other test code can run.
export function connectAt(n, transport, opts) {
	useNode(n);
	const p = connect(transport, opts);
	useNode(1);
	return p;
}

// A connection to node n logged in as user, what waited drained into
// c.backlog (users.mjs's loggedIn, on a chosen node).
export async function loggedInAt(n, transport, user, opts = {}) {
	const c = await connectAt(n, transport, opts);
	await login(c, user, opts.login ?? {});
	c.backlog = await drain(c, user);
	return c;
}

function run(file, args, timeout = 240000) {
	return new Promise((resolve, reject) => {
		execFile(file, args, { timeout, maxBuffer: 1 << 24 },
		    (err, stdout, stderr) => {
			if (err) {
				err.message += `\n${stderr}`;
				reject(err);
			} else
				resolve(stdout);
		});
	});
}

// scripts/cluster.sh CMD [N] on this cluster's folder.
export function clusterCmd(cmd, n) {
	const args = [cmd];
	if (n !== undefined)
		args.push(String(n));
	args.push('--dir', cluster.dir);
	return run(path.join(TOP, 'scripts/cluster.sh'), args);
}

// Rows of query on Galera node n (1..3) as root, tab-separated, or the
// promise rejects when that node does not answer.
export async function galeraSql(n, query) {
	const g = cluster.galera[n - 1];
	const out = await run('mariadb', ['--socket', g.socket, '-N', '-B',
	    '--connect-timeout=5', '-e', `SET SESSION wsrep_sync_wait = 1; ${query}`],
	    30000);
	return out.split('\n').filter((l) => l !== '').map((l) => l.split('\t'));
}

// The chat database on Galera node n.
export function chatSql(n, query) {
	return galeraSql(n, `USE chat; ${query}`);
}

export function sleep(ms) {
	return new Promise((r) => setTimeout(r, ms));
}

// Polls fn until it returns a truthy value; that value, or a failure
// naming what after timeout ms.
export async function until(what, fn, timeout = 30000, every = 100) {
	const end = Date.now() + timeout;
	for (;;) {
		const v = await fn();
		if (v)
			return v;
		assert.ok(Date.now() < end, `${what}: not within ${timeout} ms`);
		await sleep(every);
	}
}

// The counts of one failure test: what the sender sent and heard
// acknowledged, what the recipient received (by text: each message's text
// is unique), and from these the duplicates and the acknowledged messages
// that never arrived.  Printed as a TAP comment, so that the run's output
// holds every figure, and returned for the test's assertions.
export function tally(name, { sent, acked, received, unavailableMs }) {
	const seen = new Map();
	for (const text of received)
		seen.set(text, (seen.get(text) ?? 0) + 1);
	const duplicates = [...seen.values()].reduce((n, k) => n + k - 1, 0);
	const lost = acked.filter((t) => !seen.has(t));
	const counts = {
		sent, acknowledged: acked.length, delivered: seen.size,
		duplicates, lost: lost.length,
	};
	if (unavailableMs !== undefined)
		counts.unavailable_ms = Math.round(unavailableMs);
	console.log(`# counts ${name}: ` + Object.entries(counts)
	    .map(([k, v]) => `${k}=${v}`).join(' '));
	return { ...counts, lostTexts: lost };
}

// Sends count messages from a (on connection ca) to b, one every gap ms,
// each waiting for its answer; before message i, awaits each hook whose at
// is i.  Returns the texts sent, those answered success, and the longest
// stretch without a success while sending (the service's unavailability
// as this client saw it).
export async function sendSeries(ca, a, b, prefix, count, gap = 20,
    hooks = []) {
	const acked = [];
	let sent = 0;
	let lastOk = Date.now();
	let longest = 0;
	for (let i = 0; i < count; i++) {
		// A hook's own time (a kill, a restart) is not the service's.
		const hookStart = Date.now();
		for (const h of hooks)
			if (h.at === i)
				await h.fn();
		lastOk += Date.now() - hookStart;
		const text = `${prefix} ${i}`;
		sent++;
		let p;
		try {
			p = await ca.request({ command: 'send_message', src: a.id,
			    dst: b.id, message: text }, 15000);
		} catch (e) {
			p = { error: String(e) };
		}
		if (p.error && ca.closeInfo)
			break;
		if (p.command === 'send_message_return' &&
		    p.status === 'success') {
			acked.push(text);
			longest = Math.max(longest, Date.now() - lastOk);
			lastOk = Date.now();
		}
		if (gap > 0)
			await sleep(gap);
	}
	return { sent, acked, unavailableMs: longest };
}

// Collects the send_message texts from a on connection c until the texts
// in want have all arrived or nothing came for idle ms.
export async function collect(c, from, want, idle = 8000, got = []) {
	const need = new Set(want);
	for (const t of got)
		need.delete(t);
	while (need.size > 0) {
		let p;
		try {
			p = await c.next(idle);
		} catch (e) {
			break;
		}
		if (p.command === 'send_message' && p.src === from.id) {
			got.push(p.message);
			need.delete(p.message);
		}
	}
	return got;
}

// What reaches a daemon through Redis is checked like a worker's answer.
// A local user without the password cannot publish at all; and with it,
// what is not a list of well-formed sends (not JSON, a bind, a packet
// past 2048 bytes, an account too long) is dropped by the daemon, which
// goes on delivering the real traffic.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { afterEach, describe, test } from 'node:test';

import { closeAll } from '../lib/client.mjs';

import { befriend, newUsers } from '../lib/friends.mjs';
import { HAVE_CLUSTER, cluster, collect, loggedInAt, sleep, useNode } from
    '../lib/cluster.mjs';
import { alive } from '../lib/stack.mjs';

const skip = HAVE_CLUSTER ? false : 'no cluster (tests/cluster/run.sh)';

// One Redis command (RESP array of bulk strings); the first line answered.
function redis(args, password) {
	const enc = (a) => {
		const b = Buffer.from(a, 'utf8');
		return `$${b.length}\r\n${a}\r\n`;
	};
	const cmds = [];
	if (password)
		cmds.push(['AUTH', password]);
	cmds.push(args);
	const wire = cmds.map((c) => `*${c.length}\r\n` + c.map(enc).join(''))
	    .join('');
	return new Promise((resolve, reject) => {
		const s = net.connect(cluster.redis.port, '127.0.0.1');
		let buf = '';
		s.on('data', (d) => {
			buf += d.toString('utf8');
			const lines = buf.split('\r\n');
			if (lines.length > cmds.length) {
				s.end();
				resolve(lines[cmds.length - 1]);
			}
		});
		s.on('error', reject);
		s.write(wire);
	});
}

function daemonPid(n) {
	const f = cluster.nodes[n - 1].pid_files.push_daemon;
	return Number(fs.readFileSync(f, 'utf8').split(' ')[0]);
}

describe('hostile publishers', { skip }, () => {
	useNode(1);
	afterEach(closeAll);
	const password = HAVE_CLUSTER ?
	    fs.readFileSync(cluster.redis.password_file, 'utf8').trim() : '';

	test('without the password, PUBLISH is refused and nothing arrives',
	    async () => {
		const [a, b] = await newUsers(2);
		await befriend(a, b);
		const cb = await loggedInAt(1, 'ws', b);
		const forged = JSON.stringify({ sends: [{ op: 'send',
		    account: String(b.id), data: JSON.stringify({
		    command: 'send_message', src: String(a.id),
		    dst: String(b.id), message: 'forged', msg_id: '1',
		    time: '2026-01-01T00:00:00Z' }) }] });
		const r = await redis(['PUBLISH', 'chat:node:node1', forged]);
		assert.match(r, /^-NOAUTH/);
		await assert.rejects(cb.next(1500), /no packet/);
		cb.close();
	});

	test('with it, malformed messages are dropped and the daemon goes on',
	    async () => {
		const [a, b] = await newUsers(2);
		await befriend(a, b);
		const ca = await loggedInAt(2, 'tcp', a);
		const cb = await loggedInAt(1, 'ws', b);
		const pid = daemonPid(1);
		const huge = 'x'.repeat(2100);
		const bad = [
			'not json {',
			'{"sends": "a string"}',
			'{"sends": [1, null, {"op": "bind", "account": "' + b.id +
			    '"}, {"op": "close"}]}',
			JSON.stringify({ sends: [{ op: 'send',
			    account: String(b.id), data: huge }] }),
			JSON.stringify({ sends: [{ op: 'send',
			    account: '9'.repeat(200), data: '{}' }] }),
			JSON.stringify({ sends: [{ op: 'send', data: '{}' }] }),
		];
		for (const m of bad) {
			const r = await redis(['PUBLISH', 'chat:node:node1', m],
			    password);
			assert.match(r, /^:1$/, 'node 1 is subscribed');
		}
		await sleep(300);
		assert.ok(alive(pid), 'node 1\'s daemon still runs');
		// None of it reached bob; the real traffic does.
		ca.send({ command: 'send_message', src: a.id, dst: b.id,
		    message: 'after the junk' });
		const got = await collect(cb, a, ['after the junk']);
		assert.deepEqual(got, ['after the junk']);
		assert.equal(cb.packets.length, 0,
		    JSON.stringify(cb.packets).slice(0, 200));
		ca.close();
		cb.close();
	});
});

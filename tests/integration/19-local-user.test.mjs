// A shared host (docs/ARCHITECTURE.md, "Processes and sockets"): a local
// user who is not the service (on a LAMP host, any PHP script) can reach
// none of the stack's Unix sockets.  Were fcgi.sock open, it could send a
// batch naming any account; were ws.sock or tcp.sock open, it could write
// its own X-Real-IP header or PROXY line past the per-address limits.
//
// The unprivileged user is "nobody", so the test needs root to switch to
// it; it skips otherwise.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';

import { STACK_DIR } from '../lib/client.mjs';
import { HAVE_STACK_DIR } from '../lib/stack.mjs';

const NOBODY = 65534;
const skip = !HAVE_STACK_DIR ?
    'needs CHAT_TEST_DIR: a stack started by scripts/stack.sh' :
    process.getuid() !== 0 ? 'needs root, to run as nobody' : false;

const SOCKETS = ['fcgi.sock', 'login.sock', 'api.sock', 'ws.sock',
    'tcp.sock', 'admin.sock', 'mysqld.sock'];

// Tries to connect to each path as uid; returns {path: "connected" or the
// error code}.
function tryConnect(paths, uid) {
	const script = `
		const net = require('node:net');
		const paths = ${JSON.stringify(paths)};
		const out = {};
		let left = paths.length;
		for (const p of paths) {
			const s = net.connect({ path: p });
			const done = (what) => {
				if (p in out)
					return;
				out[p] = what;
				s.destroy();
				if (--left === 0)
					console.log(JSON.stringify(out));
			};
			s.on('connect', () => done('connected'));
			s.on('error', (e) => done(e.code));
		}`;
	const r = spawnSync(process.execPath, ['-e', script],
	    { uid, gid: uid, encoding: 'utf8', timeout: 10000, cwd: '/' });
	assert.equal(r.status, 0, `probe failed: ${r.stderr}`);
	return JSON.parse(r.stdout);
}

describe('local users', { skip }, () => {
	const runDir = path.join(STACK_DIR, 'run');
	const paths = SOCKETS.map((s) => path.join(runDir, s));

	test('every socket of the stack refuses a local user who is not ' +
	    'the service', () => {
		const got = tryConnect(paths, NOBODY);
		for (const p of paths)
			assert.equal(got[p], 'EACCES', `${p} as nobody`);
	});

	test('the same probe as the service\'s own user reaches every socket ' +
	    '(the refusal above is the permissions\', not the probe\'s)', () => {
		const got = tryConnect(paths, process.getuid());
		for (const p of paths)
			assert.equal(got[p], 'connected', `${p} as root`);
	});

	test('the socket that carries identities is the service user\'s ' +
	    'alone, nginx\'s are its group\'s, in a directory of the ' +
	    'service\'s own', () => {
		const mode = (p) => fs.statSync(p).mode & 0o777;
		for (const s of ['fcgi.sock', 'login.sock', 'admin.sock'])
			assert.equal(mode(path.join(runDir, s)), 0o600, s);
		for (const s of ['api.sock', 'ws.sock', 'tcp.sock'])
			assert.equal(mode(path.join(runDir, s)), 0o660, s);
		assert.equal(mode(runDir), 0o700);
	});
});

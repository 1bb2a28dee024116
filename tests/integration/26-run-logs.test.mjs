// make run's logs stay bounded (scripts/stack.sh run --log-max): a stack
// left running for weeks must not fill the disk.  A log past the cap is
// copied to NAME.log.1 and emptied in place, and the programs go on
// writing at its new end.  Runs `stack.sh run` itself, in the foreground
// of a child, as make run does, and stops it with Ctrl-C's signal.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import nodeHttp from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';

import { buildDir, canStartOwnStack } from '../lib/own-stack.mjs';
import { freePorts } from '../lib/server.mjs';
import { alive, until } from '../lib/stack.mjs';

const TOP = path.resolve(path.dirname(fileURLToPath(import.meta.url)),
    '../..');
const STACK_SH = path.join(TOP, 'scripts/stack.sh');
const skip = canStartOwnStack() ? false : 'fcgi_app and push_daemon not built';
const CAP_KIB = 16;

function get(port, p) {
	return new Promise((resolve, reject) => {
		nodeHttp.get({ host: '127.0.0.1', port, path: p, agent: false },
		    (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); })
		    .on('error', reject);
	});
}

function size(f) {
	try {
		return fs.statSync(f).size;
	} catch (e) {
		return -1;
	}
}

describe('stack.sh run keeps its logs bounded', { skip }, () => {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chat-runlogs.'));
	let child;
	let exited;
	after(async () => {
		if (child && child.exitCode === null) {
			child.kill('SIGINT');
			await exited;
		}
		// Whatever run left behind is stopped by its own pid files.
		spawnSync(STACK_SH, ['stop', '--dir', dir]);
		fs.rmSync(dir, { recursive: true, force: true });
	});

	test('a log past --log-max goes to NAME.log.1 and starts again; ' +
	    'the programs go on writing to it; Ctrl-C stops everything',
	async () => {
		const [http, tcp] = await freePorts(2);
		child = spawn(STACK_SH, ['run', '--dir', dir, '--http-port',
		    String(http), '--tcp-port', String(tcp), '--build', buildDir(),
		    '--test-cost', '--log-max', String(CAP_KIB), '--log-check', '1'],
		    { stdio: ['ignore', 'pipe', 'pipe'] });
		exited = new Promise((resolve) => child.on('exit',
		    (code, signal) => resolve({ code, signal })));
		let out = '';
		child.stdout.on('data', (d) => { out += d; });
		child.stderr.on('data', (d) => { out += d; });
		await until(() => out.includes('Ctrl-C stops everything'),
		    'stack.sh run to start', 120000);
		assert.match(out, new RegExp(`each kept under ${CAP_KIB} KiB`));

		// Each request is a line of nginx's access log: three caps' worth.
		const log = path.join(dir, 'log', 'nginx-access.log');
		for (let i = 0; size(log) < 3 * CAP_KIB * 1024 && i < 5000; i++)
			assert.equal(await get(http, `/?fill=${i}`), 200);
		await until(() => size(`${log}.1`) > CAP_KIB * 1024 &&
		    size(log) < CAP_KIB * 1024, 'the log to be moved aside', 15000);

		// nginx goes on at the new end: no hole of zeros before the line.
		await get(http, '/?after=cap');
		await until(() => fs.readFileSync(log, 'utf8').includes('after=cap'),
		    'the next line in the emptied log', 5000);
		const text = fs.readFileSync(log);
		assert.equal(text.indexOf(0), -1, 'the log starts with zeros');

		// No log holds more than about twice the cap, with its copy.
		for (const f of fs.readdirSync(path.join(dir, 'log')))
			assert.ok(size(path.join(dir, 'log', f)) < 4 * CAP_KIB * 1024,
			    `${f}: ${size(path.join(dir, 'log', f))} bytes`);

		const pids = fs.readdirSync(path.join(dir, 'pids')).map((f) =>
		    Number(fs.readFileSync(path.join(dir, 'pids', f), 'utf8')
		    .split(' ')[0]));
		assert.ok(pids.length >= 5, `pids: ${pids}`);
		child.kill('SIGINT');
		assert.deepEqual(await exited, { code: 0, signal: null });
		for (const pid of pids)
			assert.equal(alive(pid), false, `${pid} still runs`);
	});

	test('--log-max and --log-check refuse what is not a count over 0',
	    () => {
		for (const bad of [['--log-max', '0'], ['--log-max', '1k'],
		    ['--log-check', '-1'], ['--log-check', '']]) {
			const r = spawnSync(STACK_SH, ['run', '--dir', dir, ...bad],
			    { encoding: 'utf8' });
			assert.notEqual(r.status, 0, bad.join(' '));
			assert.match(r.stderr, /--log-max and --log-check/, bad.join(' '));
		}
	});
});

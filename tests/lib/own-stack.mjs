// A stack of a test file's own, for the tests that stop or kill parts of
// it: scripts/stack.sh starts it in a temporary directory on free ports,
// so that the stack tests/run.sh started is never disturbed.
//
//   const s = await startOwnStack({ sets: ['packet_rate=1000'] });
//   ...                          // connect() now reaches s
//   await s.stop(); await s.start();      // the whole stack, same dir
//   await s.restartDaemon('KILL');        // a push daemon crash
//   await s.remove();                     // stop, check the logs, clean up
//
// The programs are those of the stack run.sh started (the build its push
// daemon runs from), else CHAT_TEST_BUILD, else build/san or build.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { useStack } from './client.mjs';
import { freePorts } from './server.mjs';
import { HAVE_STACK_DIR, stackPid } from './stack.mjs';

const TOP = path.resolve(path.dirname(fileURLToPath(import.meta.url)),
    '../..');
const SANITIZER_RE = /ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: UndefinedBehaviorSanitizer/;

export function buildDir() {
	if (process.env.CHAT_TEST_BUILD)
		return path.resolve(TOP, process.env.CHAT_TEST_BUILD);
	if (HAVE_STACK_DIR) {
		try {
			const exe = fs.readlinkSync(
			    `/proc/${stackPid('push_daemon')}/exe`);
			return path.dirname(exe.replace(/ \(deleted\)$/, ''));
		} catch (e) {
			// not ours to read: fall through
		}
	}
	for (const b of ['build/san', 'build'])
		if (fs.existsSync(path.join(TOP, b, 'push_daemon')))
			return path.join(TOP, b);
	return path.join(TOP, 'build');
}

// True when the programs a stack needs are built.
export function canStartOwnStack() {
	const b = buildDir();
	return ['fcgi_app', 'push_daemon'].every((p) =>
	    fs.existsSync(path.join(b, p)));
}

// Runs scripts/stack.sh with args; rejects with its output if it fails.
function stackSh(args) {
	return new Promise((resolve, reject) => {
		const child = spawn(path.join(TOP, 'scripts/stack.sh'), args,
		    { stdio: ['ignore', 'pipe', 'pipe'] });
		let out = '';
		child.stdout.on('data', (d) => { out += d; });
		child.stderr.on('data', (d) => { out += d; });
		child.on('error', reject);
		child.on('close', (code) => {
			if (code === 0)
				resolve(out);
			else
				reject(new Error(`stack.sh ${args[0]} exited ${code}:\n` +
				    out));
		});
	});
}

class OwnStack {
	constructor(dir, httpPort, tcpPort, sets, build) {
		this.dir = dir;
		this.httpPort = httpPort;
		this.tcpPort = tcpPort;
		this.build = build ?? buildDir();
		this.sets = sets;
	}

	// Starts it (again) with the same directory, ports and settings.
	start() {
		const args = ['start', '--dir', this.dir,
		    '--http-port', String(this.httpPort),
		    '--tcp-port', String(this.tcpPort),
		    '--build', this.build, '--workers', '4', '--test-cost'];
		for (const s of this.sets)
			args.push('--set', s);
		return stackSh(args);
	}

	stop() {
		return stackSh(['stop', '--dir', this.dir]);
	}

	// The PID stack.sh recorded for name ('mariadb', 'fcgi_app', ...).
	pid(name) {
		const dir = path.join(this.dir, 'pids');
		const f = fs.readdirSync(dir).find((x) => x.endsWith(`-${name}.pid`));
		if (!f)
			throw new Error(`no pid file for ${name} in ${dir}`);
		return Number(fs.readFileSync(path.join(dir, f), 'utf8')
		    .split(' ')[0]);
	}

	// Stops the push daemon with signal (KILL: a crash) and starts it
	// again; resolves once it listens.
	restartDaemon(signal = 'TERM') {
		return stackSh(['restart-daemon', '--dir', this.dir,
		    '--build', this.build, '--signal', signal]);
	}

	// Stops it and removes its directory, unless a log holds a sanitizer
	// report: then the directory is kept and the report thrown.
	async remove() {
		await this.stop();
		const logDir = path.join(this.dir, 'log');
		const reports = [];
		for (const f of fs.readdirSync(logDir)) {
			const text = fs.readFileSync(path.join(logDir, f), 'utf8');
			const m = SANITIZER_RE.exec(text);
			if (m)
				reports.push(`--- ${f}\n` +
				    text.slice(m.index, m.index + 4000));
		}
		if (reports.length > 0)
			throw new Error('sanitizer reports in the logs of ' +
			    `${this.dir}:\n${reports.join('\n')}`);
		fs.rmSync(this.dir, { recursive: true, force: true });
	}
}

// The build of the workers that store no message (make NOSTORE=1), beside
// the one the tests run, or null if it was not built.
export function nostoreBuildDir() {
	const b = buildDir();
	const dir = path.basename(b) === 'san' ? `${b}-nostore` :
	    path.join(b, 'nostore');
	return ['fcgi_app', 'push_daemon'].every((p) =>
	    fs.existsSync(path.join(dir, p))) ? dir : null;
}

// Starts a stack of its own (sets: chat.conf lines, "name=value"; build:
// where its programs are, if not the tests' own) and aims every later
// connection at it.
export async function startOwnStack({ sets = [], build } = {}) {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chat-own.'));
	const [httpPort, tcpPort] = await freePorts(2);
	const s = new OwnStack(dir, httpPort, tcpPort, sets, build);
	try {
		await s.start();
	} catch (e) {
		// stack.sh stopped what it started and printed the log tails.
		throw new Error(`${e.message}\n(logs kept in ${dir})`);
	}
	useStack(httpPort, tcpPort);
	return s;
}

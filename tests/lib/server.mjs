// A server program a test file starts itself (a private nginx or Apache in
// front of the stack tests/run.sh started): free loopback ports, the wait
// until it listens, and its stop, by the PID it was started with only.
//
//   const [port] = await freePorts(1);
//   const srv = startServer('nginx', [...], { log: file });
//   await listening(port, srv);
//   await srv.stop();
//
// substitute() puts the test's paths and ports in the place of a
// production file's.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';

// n free loopback ports, from the kernel.
export function freePorts(n) {
	const one = () => new Promise((resolve, reject) => {
		const s = net.createServer();
		s.once('error', reject);
		s.listen(0, '127.0.0.1', () => resolve(s));
	});
	return Promise.all(Array.from({ length: n }, one)).then((servers) =>
	    Promise.all(servers.map((s) => new Promise((resolve) => {
		const { port } = s.address();
		s.close(() => resolve(port));
	    }))));
}

// text with each [regexp, replacement] of swaps applied; each must match,
// so that a changed production file (named by what) fails the test that
// runs it rather than being tested for less than it says.
export function substitute(text, swaps, what) {
	for (const [re, to] of swaps) {
		assert.match(text, re, `${what} no longer has ${re}`);
		text = text.replace(re, to);
	}
	return text;
}

// True when cmd runs and exits 0 (a probe for a tool, with args).
export function runs(cmd, args = ['--version']) {
	const r = spawnSync(cmd, args, { stdio: 'ignore' });
	return r.error === undefined && r.status === 0;
}

// Runs cmd to its end; returns {status, out} (stdout and stderr joined).
export function run(cmd, args, opts = {}) {
	const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
	if (r.error)
		throw r.error;
	return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

class Server {
	constructor(child, log) {
		this.child = child;
		this.pid = child.pid;
		this.log = log;
		this.exited = new Promise((resolve) => child.once('exit',
		    (code, signal) => resolve({ code, signal })));
		this.running = true;
		this.exited.then(() => { this.running = false; });
	}

	// What it wrote to its log so far.
	output() {
		try {
			return fs.readFileSync(this.log, 'utf8');
		} catch (e) {
			return '';
		}
	}

	// SIGTERM to its PID, SIGKILL after secs; resolves once it is gone.
	async stop(secs = 10) {
		if (!this.running)
			return this.exited;
		this.child.kill('SIGTERM');
		const timer = setTimeout(() => this.child.kill('SIGKILL'),
		    secs * 1000);
		const r = await this.exited;
		clearTimeout(timer);
		return r;
	}
}

// Starts cmd in the foreground of its own, its output into opts.log.
export function startServer(cmd, args, { log, env } = {}) {
	const fd = fs.openSync(log, 'a');
	try {
		return new Server(spawn(cmd, args, { env: env ?? process.env,
		    stdio: ['ignore', fd, fd] }), log);
	} finally {
		fs.closeSync(fd);
	}
}

// Resolves once 127.0.0.1:port accepts a connection; rejects if srv exits
// first or after timeout ms.
export async function listening(port, srv, timeout = 10000) {
	const end = Date.now() + timeout;
	for (;;) {
		if (!srv.running)
			throw new Error(`${srv.child.spawnfile} exited before it ` +
			    `listened on ${port}:\n${srv.output()}`);
		const ok = await new Promise((resolve) => {
			const s = net.connect(port, '127.0.0.1');
			s.once('connect', () => { s.destroy(); resolve(true); });
			s.once('error', () => resolve(false));
		});
		if (ok)
			return;
		if (Date.now() > end)
			throw new Error(`nothing listens on ${port} after ` +
			    `${timeout} ms:\n${srv.output()}`);
		await new Promise((r) => setTimeout(r, 50));
	}
}

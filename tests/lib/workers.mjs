// The FastCGI workers of a stack, seen from /proc: which serve which
// socket, whether they wait for work, and signals to them.  The tests
// that stop, kill or wait for the daemon's workers share these.
import fs from 'node:fs';
import path from 'node:path';

import { children, until } from './stack.mjs';

// Inode of the listening Unix socket at sockPath.
export function unixListener(sockPath) {
	for (const line of fs.readFileSync('/proc/net/unix', 'utf8')
	    .split('\n').slice(1)) {
		const f = line.trim().split(/\s+/);
		if (f.length >= 8 && f[7] === sockPath && f[3] === '00010000')
			return f[6];
	}
	throw new Error(`nothing listens on ${sockPath}`);
}

// The socket inodes pid holds open.
export function socketInodes(pid) {
	const out = [];
	let fds;
	try {
		fds = fs.readdirSync(`/proc/${pid}/fd`);
	} catch (e) {
		return out;
	}
	for (const fd of fds) {
		try {
			const m = /^socket:\[(\d+)\]$/.exec(
			    fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
			if (m)
				out.push(m[1]);
		} catch (e) {
			// closed meanwhile
		}
	}
	return out;
}

// The children of master holding the listener of one of socks in
// stackDir/run (fcgi.sock: the main lane, login.sock: the login lane).
export function workersOf(stackDir, master, ...socks) {
	const inodes = socks.map((s) =>
	    unixListener(path.join(stackDir, 'run', s)));
	return children(master).filter((pid) =>
	    socketInodes(pid).some((i) => inodes.includes(i)));
}

// Whether pid waits in read() on its kept connection (idle; or gone).
export function waitsInRead(pid) {
	try {
		return fs.readFileSync(`/proc/${pid}/syscall`, 'utf8')
		    .split(' ')[0] === '0';
	} catch (e) {
		return false;
	}
}

// Until every one of pids has waited in read() for ten polls in a row:
// no batch in flight, so the next one goes straight to a worker.
export async function quiet(pids) {
	let polls = 0;
	await until(() => {
		polls = pids.every(waitsInRead) ? polls + 1 : 0;
		return polls >= 10;
	}, 'the workers to be idle');
}

export function signalAll(pids, sig) {
	for (const pid of pids)
		process.kill(pid, sig);
}

// What the tests may look at inside the stack that tests/run.sh started:
// the recorded PIDs, the processes' children and open files, and a root
// MariaDB client on the test database.  Only meaningful with CHAT_TEST_DIR
// set (a stack started by scripts/stack.sh); tests that need it skip
// otherwise.
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { STACK_DIR } from './client.mjs';

export const HAVE_STACK_DIR = STACK_DIR !== '' &&
    fs.existsSync(path.join(STACK_DIR, 'pids'));

// The PID recorded by stack.sh for a program: 'fcgi_app', 'push_daemon',
// 'nginx' or 'mariadb'.
export function stackPid(name) {
	const dir = path.join(STACK_DIR, 'pids');
	const file = fs.readdirSync(dir).find((f) => f.endsWith(`-${name}.pid`));
	if (!file)
		throw new Error(`no pid file for ${name} in ${dir}`);
	return Number(fs.readFileSync(path.join(dir, file), 'utf8').split(' ')[0]);
}

// Fields of /proc/PID/stat, numbered as in proc(5) (1 is the pid), or null.
function procStat(pid) {
	let s;
	try {
		s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
	} catch (e) {
		return null;
	}
	const rest = s.slice(s.lastIndexOf(')') + 2).trim().split(' ');
	return [null, String(pid), null, ...rest];
}

// True when pid runs (a zombie counts as gone).
export function alive(pid) {
	const st = procStat(pid);
	return st !== null && st[3] !== 'Z';
}

// PIDs of the live children of pid.
export function children(pid) {
	const kids = [];
	for (const e of fs.readdirSync('/proc')) {
		if (!/^\d+$/.test(e))
			continue;
		const st = procStat(e);
		if (st && st[4] === String(pid) && st[3] !== 'Z')
			kids.push(Number(e));
	}
	return kids.sort((a, b) => a - b);
}

// How many sockets pid has open.
export function socketCount(pid) {
	let n = 0;
	let fds;
	try {
		fds = fs.readdirSync(`/proc/${pid}/fd`);
	} catch (e) {
		return -1;
	}
	for (const fd of fds) {
		try {
			if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:'))
				n++;
		} catch (e) {
			// closed meanwhile
		}
	}
	return n;
}

// Polls fn() every 20 ms until it returns a truthy value; rejects with
// what after timeout ms.
export async function until(fn, what, timeout = 10000) {
	const end = Date.now() + timeout;
	for (;;) {
		const v = await fn();
		if (v)
			return v;
		if (Date.now() > end)
			throw new Error(`timed out after ${timeout} ms: ${what}`);
		await new Promise((r) => setTimeout(r, 20));
	}
}

// One statement as the root of the stack in dir, by a `mariadb` of its
// own; resolves its rows as arrays of columns (strings).
export function sql(query, dir = STACK_DIR) {
	return new Promise((resolve, reject) => {
		execFile('mariadb', [`--defaults-file=${path.join(dir, 'my.cnf')}`,
		    '--batch', '--skip-column-names', 'chat', '-e', query],
		    { maxBuffer: 1 << 24 }, (e, stdout, stderr) => {
			if (e)
				return reject(new Error(`${query}: ${stderr}`));
			resolve(stdout.split('\n').filter((l) => l !== '')
			    .map((l) => l.split('\t')));
		});
	});
}

// A root `mariadb` client on the test database (of the stack in dir), its
// stdin kept open.
// query(sql) runs one statement and resolves once the server has answered
// it (a marker row is printed after it).
export function mariadb(dir = STACK_DIR) {
	const child = spawn('mariadb',
	    [`--defaults-file=${path.join(dir, 'my.cnf')}`, '--unbuffered',
	    '--batch', '--skip-column-names', 'chat'],
	    { stdio: ['pipe', 'pipe', 'pipe'] });
	let out = '';
	let err = '';
	let seq = 0;
	const waiters = [];
	const check = () => {
		for (let i = waiters.length - 1; i >= 0; i--) {
			if (out.includes(waiters[i].marker + '\n')) {
				waiters[i].resolve();
				waiters.splice(i, 1);
			}
		}
	};
	child.stdout.on('data', (d) => { out += d; check(); });
	child.stderr.on('data', (d) => { err += d; });
	child.on('exit', (code) => {
		for (const w of waiters.splice(0))
			w.reject(new Error(`mariadb exited ${code}: ${err}`));
	});
	return {
		query(sql, timeout = 10000) {
			const marker = `done-${++seq}-${process.pid}`;
			return new Promise((resolve, reject) => {
				const timer = setTimeout(() => reject(new Error(
				    `mariadb: no answer to ${sql} within ${timeout} ms ${err}`)),
				    timeout);
				waiters.push({
					marker,
					resolve: () => { clearTimeout(timer); resolve(); },
					reject: (e) => { clearTimeout(timer); reject(e); },
				});
				child.stdin.write(`${sql};\nSELECT '${marker}';\n`);
			});
		},
		end() {
			return new Promise((resolve) => {
				if (child.exitCode !== null)
					return resolve();
				child.on('exit', () => resolve());
				child.stdin.end();
			});
		},
		kill() {
			if (child.exitCode === null)
				child.kill('SIGKILL');
		},
	};
}

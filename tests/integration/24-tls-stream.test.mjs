// nginx/chat-stream-tls.conf, the native port over TLS, run as it is by a
// private nginx (its port, certificate and socket path put in the place of
// the recipe's) in front of the stack tests/run.sh started: a native
// client logs in through it and talks to a friend on WebSocket; a client
// that speaks plaintext to it, or does not trust its certificate, gets
// nowhere.  The certificate is a throwaway, self-signed for 127.0.0.1.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { after, afterEach, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { STACK_DIR, closeAll, frame, freshAddress, tcpClient }
    from '../lib/client.mjs';
import { assertSuccess } from '../lib/expect.mjs';
import { befriend, newUsers } from '../lib/friends.mjs';
import { freePorts, listening, run, runs, startServer, substitute }
    from '../lib/server.mjs';
import { HAVE_STACK_DIR, until } from '../lib/stack.mjs';
import { drain, login, loggedIn } from '../lib/users.mjs';

const TOP = path.resolve(path.dirname(fileURLToPath(import.meta.url)),
    '../..');
const RECIPE = path.join(TOP, 'nginx/chat-stream-tls.conf');
const STREAM_MODULE = '/usr/lib/nginx/modules/ngx_stream_module.so';

function why() {
	if (!runs('nginx', ['-v']) || !fs.existsSync(STREAM_MODULE))
		return 'needs nginx and its stream module (make deps)';
	if (!runs('openssl', ['version']))
		return 'needs openssl (make deps)';
	if (!HAVE_STACK_DIR)
		return 'needs the stack tests/run.sh starts (its tcp.sock)';
	return false;
}

// The recipe with the test's port, certificate and socket in the place of
// the host's.
function render(dir, port) {
	const text = substitute(fs.readFileSync(RECIPE, 'utf8'), [
		[/^(\s*)listen 7701 ssl;$/m, `$1listen 127.0.0.1:${port} ssl;`],
		[/^\s*listen \[::\]:7701 ssl;\n/m, ''],
		[/ssl_certificate \/etc\/ssl\/[^;]*;/,
		    `ssl_certificate ${dir}/cert.pem;`],
		[/ssl_certificate_key \/etc\/ssl\/[^;]*;/,
		    `ssl_certificate_key ${dir}/key.pem;`],
		[/unix:\/run\/chat\/tcp\.sock;/,
		    `unix:${path.join(STACK_DIR, 'run', 'tcp.sock')};`],
	], RECIPE);
	fs.writeFileSync(path.join(dir, 'chat-stream-tls.conf'), text);
	fs.writeFileSync(path.join(dir, 'nginx.conf'), [
		'daemon off;',
		// The stack's sockets are in a folder of root's alone.
		process.getuid() === 0 ? 'user root root;' : '',
		`pid ${dir}/nginx.pid;`,
		`error_log ${dir}/error.log info;`,
		`load_module ${STREAM_MODULE};`,
		'events { worker_connections 64; }',
		`include ${dir}/chat-stream-tls.conf;`,
		'',
	].join('\n'));
}

describe('the native port over TLS (nginx/chat-stream-tls.conf)', {
	skip: why(),
}, () => {
	let dir;
	let port;
	let nginx = null;
	let cert;

	// A TLS connection to the recipe's port; opts go to tls.connect.
	const tlsOpen = (opts = {}) => new Promise((resolve, reject) => {
		const s = tls.connect({ host: '127.0.0.1', port, ca: cert,
		    ...opts });
		s.once('secureConnect', () => resolve(s));
		s.once('error', reject);
	});

	before(async () => {
		dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chat-tls.'));
		const made = run('openssl', ['req', '-x509', '-newkey', 'ec',
		    '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
		    '-keyout', `${dir}/key.pem`, '-out', `${dir}/cert.pem`,
		    '-days', '2', '-subj', '/CN=chat test',
		    '-addext', 'subjectAltName=IP:127.0.0.1']);
		assert.equal(made.status, 0, made.out);
		cert = fs.readFileSync(`${dir}/cert.pem`);
		[port] = await freePorts(1);
		render(dir, port);
		const args = ['-p', `${dir}/`, '-c', `${dir}/nginx.conf`,
		    '-e', 'stderr'];
		const t = run('nginx', ['-t', '-q', ...args]);
		assert.equal(t.status, 0, t.out);
		nginx = startServer('nginx', args, { log: `${dir}/nginx.log` });
		await listening(port, nginx);
	});

	after(async () => {
		closeAll();
		if (nginx !== null) {
			await nginx.stop();
			nginx = null;
		}
		if (dir)
			fs.rmSync(dir, { recursive: true, force: true });
	});

	afterEach(closeAll);

	test('a native client logs in over TLS and exchanges messages with ' +
	    'a friend on WebSocket', async () => {
		const [a, b] = await newUsers(2);
		await befriend(a, b);
		const sock = await tlsOpen();
		assert.match(sock.getProtocol(), /^TLSv1\.[23]$/);
		const ca = tcpClient(sock);
		await login(ca, a);
		await drain(ca, a);
		const cb = await loggedIn('ws', b);
		assertSuccess(await ca.request({ command: 'send_message',
		    src: a.id, dst: b.id, message: 'over TLS' }),
		    'send_message_return');
		const got = await cb.next();
		assert.deepEqual([got.command, got.src, got.message],
		    ['send_message', a.id, 'over TLS']);
		assertSuccess(await cb.request({ command: 'send_message',
		    src: b.id, dst: a.id, message: 'back to TLS' }),
		    'send_message_return');
		const back = await ca.next();
		assert.deepEqual([back.command, back.src, back.message],
		    ['send_message', b.id, 'back to TLS']);
	});

	test('TLS 1.2 works too, with a forward-secret AEAD suite', async () => {
		const sock = await tlsOpen({ maxVersion: 'TLSv1.2' });
		assert.equal(sock.getProtocol(), 'TLSv1.2');
		assert.match(sock.getCipher().standardName,
		    /^TLS_ECDHE_(ECDSA|RSA)_WITH_(AES_\d+_GCM|CHACHA20_POLY1305)/);
		sock.destroy();
	});

	test('the daemon sees the TLS client\'s own address, from the PROXY ' +
	    'line nginx adds', async () => {
		const [u] = await newUsers(1);
		const from = freshAddress();
		const c = tcpClient(await tlsOpen({ localAddress: from }));
		await login(c, u);
		c.close();
		const log = path.join(STACK_DIR, 'log', '3-push_daemon.log');
		await until(() => fs.readFileSync(log, 'utf8')
		    .includes(`${u.id} (tcp ${from}): closed:`),
		    `the daemon's log naming ${from} for ${u.id}`);
	});

	test('a client offering only TLS 1.1 is refused', async () => {
		await assert.rejects(tlsOpen({ minVersion: 'TLSv1.1',
		    maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }),
		    { code: 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION' });
	});

	test('a plaintext client speaking the length-prefixed protocol gets ' +
	    'no answer packet and is closed', async () => {
		const sock = net.connect(port, '127.0.0.1');
		await new Promise((resolve, reject) => {
			sock.once('connect', resolve);
			sock.once('error', reject);
		});
		let got = Buffer.alloc(0);
		sock.on('data', (d) => { got = Buffer.concat([got, d]); });
		sock.on('error', () => {});
		const closed = new Promise((resolve) => sock.once('close', resolve));
		sock.write(frame(JSON.stringify({ command: 'logon',
		    username: 'plain', password: 'plaintext password' })));
		await Promise.race([closed, new Promise((_, reject) =>
		    setTimeout(() => reject(new Error('still open after 10 s')),
		    10000))]);
		// At most a TLS alert record (type 21), never a packet.
		assert.ok(got.length === 0 || got[0] === 21,
		    `got ${got.toString('hex')}`);
		assert.ok(!got.includes('command'), got.toString('latin1'));
	});

	test('a client that does not trust the certificate fails the handshake',
	    async () => {
		await assert.rejects(tlsOpen({ ca: undefined }),
		    { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
	});
});

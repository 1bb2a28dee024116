// One client API for both transports, talking to the stack through nginx as
// a real client does.  tests/run.sh tells where the stack listens:
//
//   CHAT_TEST_HTTP   host:port of nginx's HTTP server (/ws, /api/)
//   CHAT_TEST_TCP    host:port of nginx's stream server (native TCP)
//   CHAT_TEST_DIR    the stack's directory (stack.sh --dir), for the tests
//                    that look at processes or the database; optional
//
//   const c = await connect('ws');         // or 'tcp'
//   const d = await connect('tcp', { from: freshAddress() });
//   c.send({command: 'logon', ...});       // an object is sent as JSON
//   const p = await c.next();              // the next packet, parsed
//   const p2 = await c.request({...});     // send, then next()
//   const {code} = await c.closed();       // the server closed it
//
// A connection comes from 127.0.0.1 unless `from` names another loopback
// address (all of 127.0.0.0/8 is the loopback interface on Linux): nginx
// then sees that client address and passes it on as it would a real
// client's (X-Real-IP on /ws, the PROXY line on TCP), so the tests of the
// per-address limits go through the same path as production traffic.
//
// A packet is one WebSocket message or one length-prefixed TCP packet
// (int32 little-endian Length, then Length bytes).  Waits reject after a
// timeout, so a test never hangs on a missing answer.
import crypto from 'node:crypto';
import net from 'node:net';
import { WebSocket } from 'ws';

export const TRANSPORTS = ['ws', 'tcp'];
export const DEFAULT_TIMEOUT = 10000;

function address(name, fallback) {
	const v = process.env[name] || fallback;
	const m = /^(?:(.*):)?(\d+)$/.exec(v);
	if (!m)
		throw new Error(`${name}: want host:port, got ${v}`);
	return { host: m[1] || '127.0.0.1', port: Number(m[2]) };
}

export let HTTP = address('CHAT_TEST_HTTP', '127.0.0.1:8080');
export let TCP = address('CHAT_TEST_TCP', '127.0.0.1:9000');
export const STACK_DIR = process.env.CHAT_TEST_DIR || '';
export let BASE_URL = `http://${HTTP.host}:${HTTP.port}`;

// Aims every later connection and HTTP request at another stack (a test
// file that starts a stack of its own): ports on 127.0.0.1.
export function useStack(httpPort, tcpPort) {
	HTTP = { host: '127.0.0.1', port: httpPort };
	TCP = { host: '127.0.0.1', port: tcpPort };
	BASE_URL = `http://${HTTP.host}:${HTTP.port}`;
}

// A TCP packet: Length (int32 little-endian) and the bytes.
export function frame(body) {
	const data = Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
	const len = Buffer.alloc(4);
	len.writeInt32LE(data.length);
	return Buffer.concat([len, data]);
}

// Length prefix alone, for bad lengths (may be negative).
export function lengthPrefix(n) {
	const len = Buffer.alloc(4);
	len.writeInt32LE(n);
	return len;
}

// The notices of the second release (PROTOCOL.md section 7) that arrive
// unasked on a connection that has done nothing: a friend's presence, the
// receipt of a message sent, the carbon of one sent from another
// connection.  A client of the original system ignores them, and so does
// a test connection unless it asks for them (connect(..., {notices:
// true})): they are set aside in c.notices instead of being returned by
// next().
const UNASKED = new Set(['presence', 'receipt', 'sent']);

class Client {
	constructor(transport, notices = false) {
		this.transport = transport;
		this.seeNotices = notices;
		this.notices = [];	// UNASKED packets set aside
		this.packets = [];	// received, not yet taken by next()
		this.waiters = [];	// pending next() calls
		this.closeWaiters = [];
		this.closeInfo = null;	// {code, reason} once closed
		this.pings = 0;
		this.pingWaiters = [];
		this.onBytes = null;	// if set, sees each packet's bytes
	}

	// Called by the transport with each received packet (a Buffer).
	_packet(buf) {
		if (this.onBytes)
			this.onBytes(buf);
		let packet;
		try {
			packet = JSON.parse(buf.toString('utf8'));
		} catch (e) {
			packet = { unparsable: buf.toString('latin1') };
		}
		if (!this.seeNotices && UNASKED.has(packet.command)) {
			this.notices.push(packet);
			return;
		}
		const w = this.waiters.shift();
		if (w)
			w.resolve(packet);
		else
			this.packets.push(packet);
	}

	_closed(code, reason) {
		if (this.closeInfo)
			return;
		this.closeInfo = { code, reason };
		for (const w of this.waiters.splice(0))
			w.reject(new Error(`connection closed (code ${code}) ` +
			    'while waiting for a packet'));
		for (const w of this.closeWaiters.splice(0))
			w.resolve(this.closeInfo);
	}

	_ping() {
		this.pings++;
		for (const w of this.pingWaiters.splice(0))
			w.resolve();
	}

	// The next packet, parsed; rejects on timeout or close.
	next(timeout = DEFAULT_TIMEOUT) {
		if (this.packets.length > 0)
			return Promise.resolve(this.packets.shift());
		if (this.closeInfo)
			return Promise.reject(new Error('connection closed ' +
			    `(code ${this.closeInfo.code})`));
		return new Promise((resolve, reject) => {
			const w = {};
			const timer = setTimeout(() => {
				this.waiters.splice(this.waiters.indexOf(w), 1);
				reject(new Error(`no packet within ${timeout} ms`));
			}, timeout);
			w.resolve = (p) => { clearTimeout(timer); resolve(p); };
			w.reject = (e) => { clearTimeout(timer); reject(e); };
			this.waiters.push(w);
		});
	}

	// Sends a packet and returns the next one received.
	async request(packet, timeout = DEFAULT_TIMEOUT) {
		this.send(packet);
		return this.next(timeout);
	}

	// Resolves with {code, reason} (code undefined on TCP) once the server
	// has closed the connection; rejects if it is still open after timeout.
	closed(timeout = DEFAULT_TIMEOUT) {
		if (this.closeInfo)
			return Promise.resolve(this.closeInfo);
		return new Promise((resolve, reject) => {
			const w = {};
			const timer = setTimeout(() => {
				this.closeWaiters.splice(this.closeWaiters.indexOf(w), 1);
				reject(new Error(`still open after ${timeout} ms`));
			}, timeout);
			w.resolve = (i) => { clearTimeout(timer); resolve(i); };
			this.closeWaiters.push(w);
		});
	}

	// Resolves at the next WebSocket ping from the server.
	ping(timeout = DEFAULT_TIMEOUT) {
		return new Promise((resolve, reject) => {
			const w = {};
			const timer = setTimeout(() => {
				this.pingWaiters.splice(this.pingWaiters.indexOf(w), 1);
				reject(new Error(`no ping within ${timeout} ms`));
			}, timeout);
			w.resolve = () => { clearTimeout(timer); resolve(); };
			this.pingWaiters.push(w);
		});
	}

	// Sends one packet: an object as JSON, a string as its UTF-8 bytes.
	send(packet) {
		this.sendText(typeof packet === 'string' ? packet :
		    JSON.stringify(packet));
	}
}

class WsClient extends Client {
	constructor(ws, notices) {
		super('ws', notices);
		this.ws = ws;
		ws.on('message', (data) => this._packet(Buffer.from(data)));
		ws.on('close', (code, reason) => this._closed(code,
		    reason.toString()));
		ws.on('error', () => {});	// 'close' follows
		ws.on('ping', () => this._ping());
	}

	sendText(str) {
		this.ws.send(str, { binary: false });
	}

	// One message of these bytes: binary unless {text: true} (a text
	// frame is sent as is, even when the bytes are not UTF-8).
	sendBytes(buf, opts = {}) {
		this.ws.send(buf, { binary: !opts.text });
	}

	close() {
		if (this.ws.readyState === WebSocket.OPEN ||
		    this.ws.readyState === WebSocket.CONNECTING)
			this.ws.terminate();
	}
}

class TcpClient extends Client {
	constructor(sock, notices) {
		super('tcp', notices);
		this.sock = sock;
		this.buf = Buffer.alloc(0);
		sock.setNoDelay(true);
		sock.on('data', (d) => this._data(d));
		sock.on('close', () => this._closed(undefined, ''));
		sock.on('error', () => {});	// 'close' follows
	}

	_data(d) {
		this.buf = Buffer.concat([this.buf, d]);
		while (this.buf.length >= 4) {
			const len = this.buf.readInt32LE(0);
			if (len < 0 || len > 1 << 20) {
				this._packet(Buffer.from(JSON.stringify(
				    { unparsable: `bad length ${len} from server` })));
				this.buf = Buffer.alloc(0);
				return;
			}
			if (this.buf.length < 4 + len)
				return;
			const body = this.buf.subarray(4, 4 + len);
			this.buf = this.buf.subarray(4 + len);
			this._packet(Buffer.from(body));
		}
	}

	sendText(str) {
		this.sock.write(frame(str));
	}

	sendBytes(buf) {
		this.sock.write(frame(buf));
	}

	// Bytes onto the stream as they are, no Length added.
	writeRaw(buf) {
		return new Promise((resolve) => this.sock.write(buf, resolve));
	}

	close() {
		this.sock.destroy();
	}
}

const open = new Set();

// A random loopback address other than 127.0.0.1: one of 16 million, so a
// test's per-address counters start from zero (the database outlives
// each test file) without any two files having to agree.
export function freshAddress() {
	const r = crypto.randomInt(254 * 256 * 254);
	return `127.${1 + Math.floor(r / (256 * 254))}.` +
	    `${Math.floor(r / 254) % 256}.${1 + r % 254}`;
}

// Opens a connection through nginx: 'ws' or 'tcp'; opts.from is the
// client address (a 127.x.y.z), opts.headers extra headers of the
// WebSocket upgrade, opts.timeout how long to wait, opts.notices true the
// second release's unasked notices returned by next() (UNASKED above),
// opts.autoPong false
// a WebSocket that never answers the server's pings.  The old form
// connect(transport, timeout, opts) still works.
export function connect(transport, opts, more = {}) {
	if (typeof opts === 'number' || opts === undefined)
		opts = { ...more, timeout: opts ?? DEFAULT_TIMEOUT };
	const { from, headers, timeout = DEFAULT_TIMEOUT } = opts;
	return new Promise((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error(
		    `${transport}: no connection within ${timeout} ms`)), timeout);
		if (transport === 'ws') {
			const ws = new WebSocket(`ws://${HTTP.host}:${HTTP.port}/ws`,
			    { perMessageDeflate: false, localAddress: from, headers,
			    autoPong: opts.autoPong ?? true });
			ws.once('open', () => {
				clearTimeout(timer);
				const c = new WsClient(ws, opts.notices);
				open.add(c);
				resolve(c);
			});
			ws.once('error', (e) => { clearTimeout(timer); reject(e); });
		} else if (transport === 'tcp') {
			const sock = net.connect({ port: TCP.port, host: TCP.host,
			    localAddress: from });
			sock.once('connect', () => {
				clearTimeout(timer);
				const c = new TcpClient(sock, opts.notices);
				open.add(c);
				resolve(c);
			});
			sock.once('error', (e) => { clearTimeout(timer); reject(e); });
		} else {
			reject(new Error(`unknown transport ${transport}`));
		}
	});
}

// A native client on a socket connected by other means (through a TLS
// proxy, say): the length-prefixed packets of connect('tcp'), closed by
// closeAll() like the others.
export function tcpClient(sock) {
	const c = new TcpClient(sock);
	open.add(c);
	return c;
}

// Closes every connection opened so far (for after() hooks).
export function closeAll() {
	for (const c of open)
		c.close();
	open.clear();
}

// One HTTP request to nginx; resolves {status, headers, text, json}.
export async function http(method, path, { body, headers } = {}) {
	const res = await fetch(BASE_URL + path, {
		method, headers, body,
		signal: AbortSignal.timeout(DEFAULT_TIMEOUT),
	});
	const text = await res.text();
	let json;
	try {
		json = JSON.parse(text);
	} catch (e) {
		json = undefined;
	}
	return { status: res.status, headers: res.headers, text, json };
}

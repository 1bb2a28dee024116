// RFC 6455 on errors, in the manner of the Autobahn test suite: a client
// that breaks the framing rules gets a Close frame saying why (1002
// protocol error, 1007 invalid UTF-8, 1009 too big) and only then the TCP
// close (section 7.1.7), never a connection dropped without a word.  The
// frames are crafted by hand on a raw socket through nginx, since a
// WebSocket library refuses to send most of them.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net from 'node:net';
import { after, describe, test } from 'node:test';

import { DEFAULT_TIMEOUT, HTTP } from '../lib/client.mjs';

const OP = { cont: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9,
    pong: 0xa };

// One client frame: masked unless told otherwise, FIN unless told.
function wsFrame(opcode, payload = Buffer.alloc(0),
    { fin = true, mask = true, rsv = 0, length } = {}) {
	const data = Buffer.isBuffer(payload) ? payload :
	    Buffer.from(payload, 'utf8');
	const n = length ?? data.length;
	const head = [(fin ? 0x80 : 0) | rsv << 4 | opcode];
	const m = mask ? 0x80 : 0;
	let ext = Buffer.alloc(0);
	if (n < 126 && length === undefined) {
		head.push(m | n);
	} else if (n < 65536) {
		head.push(m | 126);
		ext = Buffer.alloc(2);
		ext.writeUInt16BE(n);
	} else {
		head.push(m | 127);
		ext = Buffer.alloc(8);
		ext.writeBigUInt64BE(BigInt(n));
	}
	if (!mask)
		return Buffer.concat([Buffer.from(head), ext, data]);
	const key = crypto.randomBytes(4);
	const body = Buffer.from(data.map((b, i) => b ^ key[i % 4]));
	return Buffer.concat([Buffer.from(head), ext, key, body]);
}

// A Close frame's body: the code, then the reason.
function closeBody(code, reason = '') {
	const b = Buffer.alloc(2);
	b.writeUInt16BE(code);
	return Buffer.concat([b, Buffer.from(reason)]);
}

const PROBE = JSON.stringify({ command: 'logout', id: '10000' });

// A WebSocket client on a raw socket: it sends what it is given and
// records every frame the server sends, and when the server closed TCP.
class RawWs {
	static open() {
		return new Promise((resolve, reject) => {
			const sock = net.connect(HTTP.port, HTTP.host);
			const key = crypto.randomBytes(16).toString('base64');
			let buf = Buffer.alloc(0);
			const timer = setTimeout(() => {
				sock.destroy();
				reject(new Error('no 101 answer'));
			}, DEFAULT_TIMEOUT);
			sock.once('error', reject);
			sock.on('data', function onData(d) {
				buf = Buffer.concat([buf, d]);
				const end = buf.indexOf('\r\n\r\n');
				if (end === -1)
					return;
				clearTimeout(timer);
				sock.off('data', onData);
				sock.off('error', reject);
				const head = buf.subarray(0, end).toString();
				if (!head.startsWith('HTTP/1.1 101 ')) {
					sock.destroy();
					reject(new Error(`no upgrade: ${head}`));
					return;
				}
				resolve(new RawWs(sock, buf.subarray(end + 4)));
			});
			sock.write('GET /ws HTTP/1.1\r\n' +
			    `Host: ${HTTP.host}:${HTTP.port}\r\n` +
			    'Upgrade: websocket\r\nConnection: Upgrade\r\n' +
			    `Sec-WebSocket-Key: ${key}\r\n` +
			    'Sec-WebSocket-Version: 13\r\n\r\n');
		});
	}

	constructor(sock, rest) {
		this.sock = sock;
		this.buf = Buffer.alloc(0);
		this.frames = [];
		this.waiting = [];
		this.ended = new Promise((resolve) => sock.once('close', resolve));
		// The server may close while we still write: that is the point.
		sock.on('error', () => {});
		sock.on('data', (d) => this._data(d));
		open.add(this);
		if (rest.length > 0)
			this._data(rest);
	}

	_data(d) {
		this.buf = Buffer.concat([this.buf, d]);
		for (;;) {
			const b = this.buf;
			if (b.length < 2)
				return;
			let n = b[1] & 0x7f;
			let off = 2;
			if (n === 126) {
				if (b.length < 4)
					return;
				n = b.readUInt16BE(2);
				off = 4;
			} else if (n === 127) {
				if (b.length < 10)
					return;
				n = Number(b.readBigUInt64BE(2));
				off = 10;
			}
			if (b[1] & 0x80)
				throw new Error('the server sent a masked frame');
			if (b.length < off + n)
				return;
			this.frames.push({ fin: (b[0] & 0x80) !== 0,
			    rsv: (b[0] >> 4) & 7, opcode: b[0] & 0x0f,
			    payload: Buffer.from(b.subarray(off, off + n)) });
			this.buf = b.subarray(off + n);
			for (const w of this.waiting.splice(0))
				w();
		}
	}

	// The frame number i the server sent, once it has come.
	async frame(i, timeout = DEFAULT_TIMEOUT) {
		const end = Date.now() + timeout;
		while (this.frames.length <= i) {
			assert.ok(Date.now() < end, `no frame ${i} from the server`);
			await new Promise((resolve) => {
				this.waiting.push(resolve);
				setTimeout(resolve, 100);
			});
		}
		return this.frames[i];
	}

	send(...frames) {
		this.sock.write(Buffer.concat(frames));
	}

	// Resolves once the server has closed TCP, with the frames it sent
	// and the code of its Close frame (null: none; 1005: one without a
	// code); rejects if it keeps the connection open.
	async closed(timeout = DEFAULT_TIMEOUT) {
		let timer;
		await Promise.race([this.ended, new Promise((_, reject) => {
			timer = setTimeout(() => reject(new Error(
			    'the server did not close the connection')), timeout);
		})]).finally(() => clearTimeout(timer));
		const close = this.frames.find((f) => f.opcode === OP.close);
		let code = null;
		if (close)
			code = close.payload.length >= 2 ?
			    close.payload.readUInt16BE(0) : 1005;
		return { code, frames: this.frames,
		    last: this.frames[this.frames.length - 1] };
	}

	close() {
		this.sock.destroy();
	}
}

const open = new Set();
after(() => {
	for (const c of open)
		c.close();
});

// Sends frames on a fresh connection and checks that the server answers
// with a Close frame of code, as its last frame, then closes TCP.
async function expectClose(code, ...frames) {
	const c = await RawWs.open();
	c.send(...frames);
	const r = await c.closed();
	assert.notEqual(r.code, null,
	    'the server closed TCP without a Close frame');
	assert.equal(r.code, code);
	assert.equal(r.last.opcode, OP.close, 'frames after the Close frame');
	assert.ok(r.last.payload.length <= 125);
	return r;
}

const text = (s, opts) => wsFrame(OP.text, s, opts);
const big = (n) => Buffer.alloc(n, 'x');

describe('ws: protocol errors get a Close frame with 1002', () => {
	test('an unmasked client frame', () =>
		expectClose(1002, text(PROBE, { mask: false })));

	for (const rsv of [1, 2, 4, 7])
		test(`a frame with reserved bits ${rsv} set`, () =>
			expectClose(1002, text(PROBE, { rsv })));

	for (const op of [3, 7])
		test(`the reserved data opcode ${op}`, () =>
			expectClose(1002, wsFrame(op, PROBE)));

	for (const op of [0xb, 0xf])
		test(`the reserved control opcode 0x${op.toString(16)}`, () =>
			expectClose(1002, wsFrame(op, 'x')));

	test('a fragmented ping', () =>
		expectClose(1002, wsFrame(OP.ping, 'a', { fin: false }),
		    wsFrame(OP.cont, 'b')));

	test('a fragmented close', () =>
		expectClose(1002, wsFrame(OP.close, closeBody(1000),
		    { fin: false })));

	test('a ping of 126 bytes', () =>
		expectClose(1002, wsFrame(OP.ping, big(126))));

	test('a pong of 200 bytes', () =>
		expectClose(1002, wsFrame(OP.pong, big(200))));

	test('a close of 126 bytes', () =>
		expectClose(1002, wsFrame(OP.close,
		    closeBody(1000, 'x'.repeat(124)))));

	test('a continuation frame with no message begun', () =>
		expectClose(1002, wsFrame(OP.cont, PROBE)));

	test('a new text frame inside a fragmented message', () =>
		expectClose(1002, text('{"command":', { fin: false }),
		    text('"logout"}')));

	test('a length of 5 written in 16 bits', () =>
		expectClose(1002, text('hello', { length: 5 })));

	test('a 64-bit length with its top bit set', () => {
		const f = wsFrame(OP.binary, '', { length: 70000 });
		f[2] |= 0x80;
		return expectClose(1002, f);
	});

	test('a close whose body is a single byte', () =>
		expectClose(1002, wsFrame(OP.close, Buffer.from([0x03]))));

	for (const code of [0, 999, 1004, 1005, 1006, 1012, 1015, 1016, 2999,
	    5000, 65535])
		test(`a close with the code ${code}`, () =>
			expectClose(1002, wsFrame(OP.close, closeBody(code))));
});

describe('ws: invalid UTF-8 gets a Close frame with 1007', () => {
	test('a text message that is not UTF-8', () =>
		expectClose(1007, text(Buffer.from([0x7b, 0xff, 0x7d]))));

	test('a text message ending inside a character', () =>
		expectClose(1007, text(Buffer.from([0x61, 0xe4, 0xb8]))));

	test('an encoded surrogate in a fragmented text message', () =>
		expectClose(1007, text(Buffer.from([0x61, 0xed]), { fin: false }),
		    wsFrame(OP.cont, Buffer.from([0xa0, 0x80]))));

	test('a close reason that is not UTF-8', () =>
		expectClose(1007, wsFrame(OP.close, Buffer.concat([
		    closeBody(1000), Buffer.from([0xc0, 0xaf])]))));
});

describe('ws: a message over 64 KiB gets a Close frame with 1009', () => {
	test('one frame of 65537 bytes', () =>
		expectClose(1009, wsFrame(OP.binary, big(65537))));

	test('fragments adding up to 65537 bytes', () =>
		expectClose(1009, text(big(40000), { fin: false }),
		    wsFrame(OP.cont, big(25537))));

	// wslay judges the length once the first payload byte is in.
	test('a frame announcing 2^62 bytes', () =>
		expectClose(1009, wsFrame(OP.binary, big(100),
		    { length: 2 ** 62 })));
});

describe('ws: the closes that are no error', () => {
	for (const code of [1000, 1001, 1003, 1011, 3000, 4999])
		test(`a close with the code ${code} is echoed`, async () => {
			const r = await expectClose(code,
			    wsFrame(OP.close, closeBody(code, 'bye')));
			assert.equal(r.frames.length, 1);
		});

	test('a close without a body is answered by one', async () => {
		const c = await RawWs.open();
		c.send(wsFrame(OP.close));
		const r = await c.closed();
		assert.equal(r.last.opcode, OP.close);
		assert.equal(r.last.payload.length, 0);
	});

	test('a ping of 125 bytes gets its pong and the connection stays',
	    async () => {
		const c = await RawWs.open();
		c.send(wsFrame(OP.ping, big(125)));
		const pong = await c.frame(0);
		assert.equal(pong.opcode, OP.pong);
		assert.deepEqual(pong.payload, big(125));
		c.send(text(PROBE));
		const answer = await c.frame(1);
		assert.equal(answer.opcode, OP.text);
		assert.equal(JSON.parse(answer.payload).detail, 'not logged in');
		c.send(wsFrame(OP.close, closeBody(1000)));
		const r = await c.closed();
		assert.equal(r.frames.length, 3);
		assert.equal(r.code, 1000);
	});
});

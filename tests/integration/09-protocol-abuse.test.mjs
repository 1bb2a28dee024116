// Bad input on both transports: malformed JSON, wrong types, bad encoding,
// bad TCP lengths, over-long and odd WebSocket messages, floods.  Each gets
// the answer PROTOCOL.md and docs/ARCHITECTURE.md name, and the connection
// keeps working afterwards unless the stream itself cannot be trusted.
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';

import {
	TRANSPORTS, closeAll, connect, frame, lengthPrefix,
} from '../lib/client.mjs';
import { assertError, assertFail, assertSuccess } from '../lib/expect.mjs';
import { newUser, randomPassword, uniqueName } from '../lib/users.mjs';

// A packet every logged-out connection is answered the same way.
const PROBE = { command: 'logout', id: '10000' };

// The connection still reads packets in order and answers them.
async function assertStillWorks(c) {
	const p = await c.request(PROBE);
	assertFail(p, 'logout_return', 'not logged in');
}

// PROBE padded with an unknown field to exactly n bytes of JSON.
function paddedProbe(n) {
	const base = JSON.stringify({ ...PROBE, pad: '' });
	assert.ok(n >= base.length);
	const s = JSON.stringify({ ...PROBE, pad: 'x'.repeat(n - base.length) });
	assert.equal(Buffer.byteLength(s), n);
	return s;
}

const bytes = (...parts) => Buffer.concat(parts.map((p) =>
    typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p)));

// A logon packet whose username is given as raw JSON text or bytes.
const logonWith = (username) => bytes('{"command":"logon","username":"',
    username, '","password":"12345678"}');

const errorCases = [
	['text that is not JSON', 'hello', 'bad json'],
	['a JSON array', '[{"command":"logout","id":"10000"}]', 'bad json'],
	['a JSON string', '"logout"', 'bad json'],
	['a JSON number', '42', 'bad json'],
	['truncated JSON', '{"command":"logout","id":"10000"', 'bad json'],
	['an object without a command', '{"id":"10000"}', 'no command'],
	['a command that is a number', '{"command":5}', 'no command'],
	['a command that is null', '{"command":null}', 'no command'],
	['an unknown command', '{"command":"frobnicate"}', 'unknown command'],
	['a command named in the wrong case', '{"command":"LOGIN"}',
	    'unknown command'],
	['login with the password as a number',
	    '{"command":"login","id":"10000","password":12345678}',
	    'bad request'],
	['login with the id as an object',
	    '{"command":"login","id":{"id":"10000"},"password":"12345678"}',
	    'bad request'],
	['login with the id as null',
	    '{"command":"login","id":null,"password":"12345678"}', 'bad request'],
	['login without a password', '{"command":"login","id":"10000"}',
	    'bad request'],
	['logon with the username as a number',
	    '{"command":"logon","username":7,"password":"12345678"}',
	    'bad request'],
	['logon with the password as an array',
	    '{"command":"logon","username":"bob","password":["12345678"]}',
	    'bad request'],
	['invalid UTF-8 bytes in a string', logonWith([0x61, 0xff, 0xfe]),
	    'bad encoding'],
	['an overlong UTF-8 encoding', logonWith([0xc0, 0xaf]), 'bad encoding'],
	['a UTF-8-encoded surrogate', logonWith([0xed, 0xa0, 0x80]),
	    'bad encoding'],
	['a UTF-8 sequence cut short', logonWith([0x61, 0xe4, 0xb8]),
	    'bad encoding'],
	['a \\u0000 escape in a string', logonWith('a\\u0000b'),
	    'bad encoding'],
	['a raw NUL byte in a string', logonWith([0x61, 0x00, 0x62]),
	    'bad encoding'],
	['a lone \\ud800 escape', logonWith('a\\ud800'), 'bad encoding'],
	['a lone \\udc00 escape', logonWith('\\udc00b'), 'bad encoding'],
	['a high surrogate escape followed by a plain letter',
	    logonWith('\\ud83dx'), 'bad encoding'],
	['a \\u0000 escape in a field the server does not know',
	    '{"command":"logout","id":"10000","note":"\\u0000"}', 'bad encoding'],
];

for (const transport of TRANSPORTS) {
	describe(`${transport}: malformed packets`, () => {
		afterEach(closeAll);

		for (const [what, body, detail] of errorCases) {
			test(`${what} gets error "${detail}" and the connection ` +
			    'keeps working', async () => {
				const c = await connect(transport);
				// Raw bytes go in a binary WebSocket message: a text
				// message must be UTF-8 (RFC 6455).
				if (Buffer.isBuffer(body))
					c.sendBytes(body);
				else
					c.sendText(body);
				assertError(await c.next(), detail);
				await assertStillWorks(c);
			});
		}

		test('a surrogate pair escape is a valid character', async () => {
			const c = await connect(transport);
			c.sendBytes(bytes('{"command":"logon","username":"',
			    uniqueName(), '\\ud83d\\ude00","password":"',
			    randomPassword(), '"}'));
			assertSuccess(await c.next(), 'logon_return');
		});

		test('fields the server does not know are ignored', async () => {
			const c = await connect(transport);
			const p = await c.request({ command: 'logon',
			    username: uniqueName(), password: randomPassword(),
			    colour: 'blue', extra: { nested: [1, 2] } });
			assertSuccess(p, 'logon_return');
		});

		test('SQL metacharacters in a username are stored as text',
		    async () => {
			const username = "x'); DROP TABLE users; --";
			const u = await newUser({ transport, username });
			const c = await connect(transport);
			const p = await c.request({ command: 'login', id: u.id,
			    password: u.password });
			assertSuccess(p, 'login_return');
			assert.equal(p.username, username);
		});

		test('a packet of exactly 2048 bytes is answered', async () => {
			const c = await connect(transport);
			c.sendText(paddedProbe(2048));
			assertFail(await c.next(), 'logout_return', 'not logged in');
		});

		test('packets sent back to back are answered in order',
		    async () => {
			const c = await connect(transport);
			const name = uniqueName();
			c.send({ command: 'logon', username: name,
			    password: randomPassword() });
			c.send(PROBE);
			c.send({ command: 'logon', username: '' ,
			    password: randomPassword() });
			c.send('[]');
			assertSuccess(await c.next(), 'logon_return');
			assertFail(await c.next(), 'logout_return', 'not logged in');
			assertFail(await c.next(), 'logon_return', 'bad username');
			assertError(await c.next(), 'bad json');
		});

		test('a burst of 150 packets gets "rate limited" answers and ' +
		    'the connection is kept', async () => {
			const c = await connect(transport);
			for (let i = 0; i < 150; i++)
				c.send(PROBE);
			let limited = 0;
			for (let i = 0; i < 150; i++) {
				const p = await c.next();
				assert.equal(p.status, 'fail');
				if (p.detail === 'rate limited')
					limited++;
				else
					assert.equal(p.detail, 'not logged in');
			}
			assert.ok(limited > 0, 'no packet was rate limited');
			// Tokens come back at 50/s: poll until one is answered.
			const end = Date.now() + 5000;
			for (;;) {
				const p = await c.request(PROBE);
				if (p.detail !== 'rate limited') {
					assertFail(p, 'logout_return', 'not logged in');
					break;
				}
				assert.ok(Date.now() < end, 'still rate limited');
				await new Promise((r) => setTimeout(r, 100));
			}
		});
	});
}

describe('tcp: framing', () => {
	afterEach(closeAll);

	for (const len of [0, -1, 2049, 100000]) {
		test(`Length ${len} gets error "bad length" and the server ` +
		    'closes the connection', async () => {
			const c = await connect('tcp');
			await c.writeRaw(bytes(lengthPrefix(len), '{"command":"x"}'));
			assertError(await c.next(), 'bad length');
			await c.closed();
		});
	}

	test('a packet split over several writes, Length included, is ' +
	    'answered', async () => {
		const c = await connect('tcp');
		const data = frame(JSON.stringify(PROBE));
		// A whole packet and the first byte of the next in one write:
		// the answer to the first shows that the server has read it
		// while the second was incomplete, so the rest arrives in reads
		// of its own.
		await c.writeRaw(bytes(data, data.subarray(0, 1)));
		assertFail(await c.next(), 'logout_return', 'not logged in');
		// The Length split 1 + 2 + 1, then the body in pieces: none of
		// them is answered...
		for (const [a, b] of [[1, 3], [3, 4], [4, 10], [10, 20]]) {
			await c.writeRaw(data.subarray(a, b));
			await assert.rejects(c.next(100), /no packet/,
			    `answered after bytes ${a}..${b}`);
		}
		// ...until the last byte.
		await c.writeRaw(data.subarray(20));
		assertFail(await c.next(), 'logout_return', 'not logged in');
		await assertStillWorks(c);
	});

	test('two packets in one write are both answered, in order',
	    async () => {
		const c = await connect('tcp');
		await c.writeRaw(bytes(frame(JSON.stringify(PROBE)), frame('[]')));
		assertFail(await c.next(), 'logout_return', 'not logged in');
		assertError(await c.next(), 'bad json');
	});

	test('a trailing NUL inside Length is ignored', async () => {
		const c = await connect('tcp');
		await c.writeRaw(frame(bytes(JSON.stringify(PROBE), [0])));
		assertFail(await c.next(), 'logout_return', 'not logged in');
		await assertStillWorks(c);
	});

	test('a 2048-byte packet whose last byte is a NUL is answered',
	    async () => {
		const c = await connect('tcp');
		await c.writeRaw(frame(bytes(paddedProbe(2047), [0])));
		assertFail(await c.next(), 'logout_return', 'not logged in');
	});

	test('every packet the server sends carries a Length matching its ' +
	    'JSON', async () => {
		const c = await connect('tcp');
		const raw = [];
		c.sock.on('data', (d) => raw.push(d));
		// Answers of several kinds and sizes, multi-byte text in some.
		const password = randomPassword();
		const got = [];
		let p = await c.request({ command: 'logon', username: '张三',
		    password });
		assertSuccess(p, 'logon_return');
		got.push(p);
		p = await c.request({ command: 'login', id: p.id, password });
		assertSuccess(p, 'login_return');
		assert.equal(p.username, '张三');
		got.push(p);
		got.push(await c.request({ command: 'list_friend', id: p.id }));
		got.push(await c.request('hello'));
		got.push(await c.request({ command: 'nosuch', pad: '字'.repeat(40) }));
		got.push(await c.request({ command: 'logout', id: got[0].id }));
		assertSuccess(got[5], 'logout_return');
		// The bytes as they came: each Length is followed by exactly
		// that many bytes of one JSON text, and the last ends the
		// stream.
		const stream = Buffer.concat(raw);
		const frames = [];
		let off = 0;
		while (off < stream.length) {
			assert.ok(off + 4 <= stream.length, `a cut Length at ${off}`);
			const len = stream.readInt32LE(off);
			assert.ok(len >= 1 && len <= 2048, `Length ${len} at ${off}`);
			assert.ok(off + 4 + len <= stream.length,
			    `Length ${len} at ${off} past the end ${stream.length}`);
			const body = stream.subarray(off + 4, off + 4 + len);
			assert.doesNotThrow(() => JSON.parse(body.toString('utf8')),
			    `packet ${frames.length} is not JSON: ${body}`);
			assert.equal(body.toString('utf8').trim().length,
			    body.toString('utf8').length,
			    `packet ${frames.length} has bytes beyond its JSON`);
			assert.equal(body.indexOf(0), -1,
			    `packet ${frames.length} holds a NUL`);
			frames.push(JSON.parse(body.toString('utf8')));
			off += 4 + len;
		}
		assert.deepEqual(frames, got);
	});
});

describe('bad input harms nobody else', () => {
	afterEach(closeAll);

	test('a logged-in client keeps working while others send garbage ' +
	    'on both transports', async () => {
		const u = await newUser();
		const a = await connect('ws');
		const b = await connect('tcp');
		const victim = await connect('ws');
		let p = await victim.request({ command: 'login', id: u.id,
		    password: u.password });
		assertSuccess(p, 'login_return');
		a.sendText(paddedProbe(70000));
		await b.writeRaw(lengthPrefix(-1));
		for (const body of ['[]', '{"command":"x"}', logonWith([0xff])])
			victim.sendBytes(Buffer.from(body));
		assertError(await victim.next(), 'bad json');
		assertError(await victim.next(), 'unknown command');
		assertError(await victim.next(), 'bad encoding');
		await a.closed();
		await b.closed();
		p = await victim.request({ command: 'login', id: u.id,
		    password: u.password });
		assertFail(p, 'login_return', 'already logged in');
	});
});

describe('ws: messages', () => {
	afterEach(closeAll);

	test('a binary message is read like a text one', async () => {
		const c = await connect('ws');
		c.sendBytes(Buffer.from(JSON.stringify(PROBE)));
		assertFail(await c.next(), 'logout_return', 'not logged in');
	});

	test('a message sent in several fragments is read as one packet',
	    async () => {
		const c = await connect('ws');
		const s = JSON.stringify(PROBE);
		c.ws.send(s.slice(0, 5), { fin: false });
		c.ws.send(s.slice(5, 12), { fin: false });
		c.ws.send(s.slice(12), { fin: true });
		assertFail(await c.next(), 'logout_return', 'not logged in');
	});

	for (const len of [2049, 3000, 65536]) {
		test(`a ${len}-byte message gets error "packet too large" and ` +
		    'the connection stays usable', async () => {
			const c = await connect('ws');
			c.sendText(paddedProbe(len));
			assertError(await c.next(), 'packet too large');
			await assertStillWorks(c);
		});
	}

	test('a 70000-byte message closes the connection with code 1009',
	    async () => {
		const c = await connect('ws');
		c.sendText(paddedProbe(70000));
		const { code } = await c.closed();
		assert.equal(code, 1009);
	});

	test('a text message that is not UTF-8 closes the connection with ' +
	    'code 1007', async () => {
		const c = await connect('ws');
		c.sendBytes(logonWith([0xff]), { text: true });
		const { code } = await c.closed();
		assert.equal(code, 1007);
	});

	test('the server answers a ping with a pong', async () => {
		const c = await connect('ws');
		const pong = new Promise((resolve) => c.ws.once('pong', resolve));
		c.ws.ping(Buffer.from('hello'));
		const data = await Promise.race([pong, new Promise((_, reject) =>
		    setTimeout(() => reject(new Error('no pong')), 5000))]);
		assert.equal(Buffer.from(data).toString(), 'hello');
		await assertStillWorks(c);
	});

	test('the server sends text messages holding one JSON object each',
	    async () => {
		const c = await connect('ws');
		const msg = new Promise((resolve) => c.ws.once('message',
		    (data, isBinary) => resolve({ data, isBinary })));
		c.send(PROBE);
		const { data, isBinary } = await msg;
		assert.equal(isBinary, false);
		assert.equal(typeof JSON.parse(data.toString()), 'object');
	});
});

// The HTTP side of nginx: /api/logon and /api/health go straight to the
// workers (PROTOCOL.md section 5), / serves the web client, and nothing an
// HTTP client sends can pose as a daemon connection or an account.
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';

import { closeAll, connect, http } from '../lib/client.mjs';
import { assertError, assertFail, assertSuccess } from '../lib/expect.mjs';
import { login, newUser, randomPassword, uniqueName } from '../lib/users.mjs';

const JSON_TYPE = { 'Content-Type': 'application/json' };

function postLogon(body, headers = {}) {
	return http('POST', '/api/logon', {
		body: typeof body === 'string' ? body : JSON.stringify(body),
		headers: { ...JSON_TYPE, ...headers },
	});
}

// Every header name that could be taken for a CHAT_* param, and for the
// usual identity headers of proxies.
const FORGED = {
	'X-Chat-Account': '10000',
	'Chat-Account': '10000',
	'Chat-Conn-Id': '1',
	'Chat-Event': 'packet',
	'Chat-Transport': 'ws',
	'Chat-Ack-Mode': '1',
	'Chat-Node': 'node1',
	'Chat-Remote-Addr': '10.0.0.1',
	'CHAT_ACCOUNT': '10000',
	'CHAT_CONN_ID': '1',
	'X-Forwarded-User': '10000',
	'X-Real-IP': '10.0.0.1',
};

describe('http: /api/health', () => {
	test('GET /api/health answers 200 with every part ok', async () => {
		const r = await http('GET', '/api/health');
		assert.equal(r.status, 200);
		assert.deepEqual(r.json, { status: 'ok', database: 'ok',
		    push_daemon: 'ok', workers: 'ok' });
		assert.match(r.headers.get('content-type'), /application\/json/);
	});
});

describe('http: /api/logon', () => {
	afterEach(closeAll);

	test('POST /api/logon with a logon packet answers 200 with the ' +
	    'new id', async () => {
		const r = await postLogon({ command: 'logon',
		    username: uniqueName(), password: randomPassword() });
		assert.equal(r.status, 200);
		assertSuccess(r.json, 'logon_return');
		assert.match(r.json.id, /^[1-9][0-9]*$/);
		assert.ok(Number(r.json.id) >= 10000);
	});

	test('an account made over HTTP can log in over both transports',
	    async () => {
		const user = { username: '网页用户', password: randomPassword() };
		const r = await postLogon({ command: 'logon', ...user });
		assertSuccess(r.json, 'logon_return');
		user.id = r.json.id;
		for (const transport of ['ws', 'tcp']) {
			const c = await connect(transport);
			const p = await login(c, user);
			assert.equal(p.username, user.username);
		}
	});

	test('POST /api/logon with a bad username answers 200 with the fail',
	    async () => {
		const r = await postLogon({ command: 'logon', username: '',
		    password: randomPassword() });
		assert.equal(r.status, 200);
		assertFail(r.json, 'logon_return', 'bad username');
	});

	test('POST /api/logon with a bad password answers 200 with the fail',
	    async () => {
		const r = await postLogon({ command: 'logon',
		    username: uniqueName(), password: 'short' });
		assert.equal(r.status, 200);
		assertFail(r.json, 'logon_return', 'bad password');
	});

	const bad = [
		['a body that is not JSON', 'hello', 'bad json'],
		['a JSON array', '[]', 'bad json'],
		['an empty body', '', 'bad json'],
		['an object without a command', '{"username":"x"}', 'no command'],
		['an unknown command', '{"command":"frobnicate"}',
		    'unknown command'],
		['a logon with the username as a number',
		    '{"command":"logon","username":1,"password":"12345678"}',
		    'bad request'],
		['a logon with a \\u0000 in the username',
		    '{"command":"logon","username":"a\\u0000","password":"12345678"}',
		    'bad encoding'],
	];
	for (const [what, body, detail] of bad) {
		test(`POST /api/logon with ${what} answers 400 with error ` +
		    `"${detail}"`, async () => {
			const r = await postLogon(body);
			assert.equal(r.status, 400);
			assertError(r.json, detail);
		});
	}

	test('POST /api/logon with a packet of another command answers 400 ' +
	    'with an error', async () => {
		const u = await newUser();
		for (const packet of [
			{ command: 'login', id: u.id, password: u.password },
			{ command: 'logout', id: u.id },
		]) {
			const r = await postLogon(packet);
			assert.equal(r.status, 400, r.text);
			assert.equal(r.json.command, 'error', r.text);
			assert.equal(r.json.status, 'fail', r.text);
		}
	});
});

describe('http: identity cannot be forged', () => {
	test('a logon with forged identity headers works the normal way',
	    async () => {
		const earlier = await newUser();
		const username = uniqueName();
		const password = randomPassword();
		const r = await postLogon({ command: 'logon', username,
		    password }, FORGED);
		assert.equal(r.status, 200, r.text);
		assertSuccess(r.json, 'logon_return');
		// A new account of its own, issued after the one before it,
		// not the account the headers name...
		assert.match(r.json.id, /^[1-9][0-9]*$/, r.text);
		assert.ok(BigInt(r.json.id) > BigInt(earlier.id),
		    `id ${r.json.id} after ${earlier.id}`);
		// ...with the name and password the packet gave.
		const c = await connect('ws');
		try {
			const p = await login(c, { id: r.json.id, password });
			assert.equal(p.username, username);
		} finally {
			c.close();
		}
	});

	test('a login packet with forged identity headers is refused',
	    async () => {
		const u = await newUser();
		const r = await postLogon({ command: 'login', id: u.id,
		    password: u.password }, { ...FORGED, 'Chat-Account': u.id,
		    'X-Chat-Account': u.id, 'Chat-Conn-Id': '7' });
		assert.equal(r.status, 400, r.text);
		assert.equal(r.json.command, 'error', r.text);
	});

	test('a logout packet with a forged account header is refused',
	    async () => {
		const u = await newUser();
		const r = await postLogon({ command: 'logout', id: u.id },
		    { ...FORGED, 'Chat-Account': u.id, 'Chat-Conn-Id': '1' });
		assert.equal(r.status, 400, r.text);
		assert.notEqual(r.json.status, 'success', r.text);
	});
});

describe('http: the web client', () => {
	test('GET / serves an HTML page', async () => {
		const r = await http('GET', '/');
		assert.equal(r.status, 200);
		assert.match(r.headers.get('content-type'), /text\/html/);
	});

	test('GET of a missing file answers 404', async () => {
		const r = await http('GET', '/no-such-file.txt');
		assert.equal(r.status, 404);
	});
});

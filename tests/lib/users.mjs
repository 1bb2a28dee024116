// Helpers to make accounts and log them in, on either transport.
//
//   const u = await newUser();              // {id, username, password}
//   const c = await loggedIn('tcp', u);     // a connection logged in as u
import assert from 'node:assert/strict';
import crypto from 'node:crypto';

import { connect } from './client.mjs';

// A username unique to this run, short enough for the 32-character limit.
export function uniqueName(prefix = 'user') {
	return `${prefix}-${crypto.randomBytes(4).toString('hex')}`;
}

export function randomPassword() {
	return `pw-${crypto.randomBytes(8).toString('hex')}`;
}

// An account id that no stack will have issued: failed logins for it are
// counted like those of a real id, so each test takes a fresh one.
export function unknownId() {
	return String(900000000 + crypto.randomInt(99999999));
}

// Registers on connection c; returns the new id.
export async function logon(c, username, password) {
	const p = await c.request({ command: 'logon', username, password });
	assert.deepEqual({ command: p.command, status: p.status },
	    { command: 'logon_return', status: 'success' },
	    `logon failed: ${JSON.stringify(p)}`);
	return p.id;
}

// Registers a new account over a short-lived connection, from the client
// address `from` if given (see client.mjs).
export async function newUser({ transport = 'ws', username, password,
    from } = {}) {
	username ??= uniqueName();
	password ??= randomPassword();
	const c = await connect(transport, { from });
	try {
		const id = await logon(c, username, password);
		return { id, username, password };
	} finally {
		c.close();
	}
}

// Logs user in on connection c; returns the login_return packet.
export async function login(c, user, extra = {}) {
	const p = await c.request({ command: 'login', id: user.id,
	    password: user.password, ...extra });
	assert.deepEqual({ command: p.command, status: p.status },
	    { command: 'login_return', status: 'success' },
	    `login failed: ${JSON.stringify(p)}`);
	return p;
}

// Sends a packet whose answer is known (a second login), and returns
// every packet that arrived before that answer.  After a login this is
// what waited for the account: the server sends it before answering any
// later packet (PROTOCOL.md, login), possibly after live packets that
// raced with it, so a test that watches live traffic drains it first.
export async function drain(c, user) {
	c.send({ command: 'login', id: user.id, password: user.password });
	const got = [];
	for (;;) {
		const p = await c.next();
		if (p.command === 'login_return' && p.status === 'fail' &&
		    p.detail === 'already logged in')
			return got;
		got.push(p);
	}
}

// A new connection on transport, logged in as user, with what waited for
// the account at login drained into c.backlog.
export async function loggedIn(transport, user, extra = {}) {
	const c = await connect(transport);
	await login(c, user, extra);
	c.backlog = await drain(c, user);
	return c;
}

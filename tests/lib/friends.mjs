// Helpers for tests that need many accounts, friendships and presence.
//
//   const users = await newUsers(40);           // registered a few at a time
//   await befriend(a, b);                       // a asked, b confirmed
//   await untilOffline(ca, a, b);               // a's list shows b offline
//   const w = await watcher(a);                 // a friend that watches a
//   ca.close(); await w.offline();              // every one of a's is gone
import assert from 'node:assert/strict';

import { assertSuccess } from './expect.mjs';
import { loggedIn, newUser } from './users.mjs';

// Runs fn(item, index) over items with at most n running at once; resolves
// with the results in the order of items.
export async function pool(items, n, fn) {
	const out = new Array(items.length);
	let next = 0;
	const lane = async () => {
		while (next < items.length) {
			const i = next++;
			out[i] = await fn(items[i], i);
		}
	};
	await Promise.all(Array.from({ length: Math.min(n, items.length) },
	    lane));
	return out;
}

// Registers count accounts, at most 8 at a time (password hashing is the
// slow part); opts(i) may give a username or transport for the i-th.
export function newUsers(count, opts = () => ({})) {
	return pool(Array.from({ length: count }, (_, i) => i), 8,
	    (i) => newUser(opts(i)));
}

// The next packet on c for which pred is true; those before it are
// dropped.
async function nextWhere(c, pred) {
	for (;;) {
		const p = await c.next();
		if (pred(p))
			return p;
	}
}

// A asks B and B confirms, each on a short-lived connection of its own
// transport; both are friends with status "0" when it returns.  A is told
// on its connection before it closes, so nothing waits for A afterwards.
// What else reaches A or B meanwhile (befriend() of B and others running
// at the same time) is skipped.
export async function befriend(a, b, ta = 'ws', tb = 'tcp') {
	const ca = await loggedIn(ta, a);
	const cb = await loggedIn(tb, b);
	const about = (command) => (p) => p.command === command &&
	    p.src === a.id && p.dst === b.id;
	try {
		assertSuccess(await ca.request({ command: 'add_friend', src: a.id,
		    dst: b.id, status: '0' }), 'add_friend_return');
		await nextWhere(cb, about('add_friend'));
		cb.send({ command: 'add_friend_confirm', src: a.id, dst: b.id,
		    status: '0', message: 'confirm_two_way' });
		for (const c of [cb, ca])
			assertSuccess(await nextWhere(c,
			    about('add_friend_confirm_return')),
			    'add_friend_confirm_return');
	} finally {
		ca.close();
		cb.close();
	}
}

// The list_friend of u on connection c, all of its packets joined (a long
// list comes as several, each but the last with "more": true).
export async function friendList(c, u) {
	const friends = [];
	let p = await c.request({ command: 'list_friend', id: u.id });
	for (;;) {
		assertSuccess(p, 'list_friend_return');
		friends.push(...p.friends);
		if (!p.more)
			return friends;
		p = await c.next();
	}
}

// Polls u's friend list on c until friend f shows offline: the server has
// seen all of f's connections end, so nothing more is written to them.
export async function untilOffline(c, u, f, timeout = 10000) {
	const end = Date.now() + timeout;
	for (;;) {
		const me = (await friendList(c, u)).find((x) => x.id === f.id);
		assert.ok(me, `${f.id} is not a friend of ${u.id}`);
		if (!me.online)
			return;
		assert.ok(Date.now() < end, `${f.id} still online after ` +
		    `${timeout} ms`);
		await new Promise((r) => setTimeout(r, 50));
	}
}

// A new account befriended with u, logged in on a connection of its own,
// to tell when every connection of u has ended, for a test that has no
// friend of u to ask (u has only sent a request, say).  Until then the
// server may still write what is meant for u to a connection the client
// has closed, instead of keeping it for u's next login.  u's friend list
// gains the watcher: a test that counts u's friends cannot use one.
export async function watcher(u, transport = 'ws') {
	const w = await newUser({ transport });
	await befriend(u, w, 'ws', transport);
	const c = await loggedIn(transport, w);
	return {
		user: w,
		conn: c,
		offline: (timeout) => untilOffline(c, w, u, timeout),
	};
}

// The check that only storage can pass: a recipient offline while its
// friend sends, so that what it gets at its next login can only come from
// the database.  Used by the durability tests (on the real workers, where
// nothing may be missing) and by their negative control (on workers that
// store nothing, where the check must see every message missing).
import { assertSuccess } from './expect.mjs';
import { befriend, newUsers, untilOffline } from './friends.mjs';
import { loggedIn } from './users.mjs';

// Sends n messages from a to b while b is offline, each acknowledged;
// then b logs in.  Returns the acknowledged texts and those missing from
// b's backlog.
export async function offlineDelivery(n, transport = 'tcp') {
	const [a, b] = await newUsers(2);
	await befriend(a, b);
	const ca = await loggedIn(transport, a);
	await untilOffline(ca, a, b);
	const acked = [];
	for (let i = 0; i < n; i++) {
		const text = `offline ${i}`;
		assertSuccess(await ca.request({ command: 'send_message',
		    src: a.id, dst: b.id, message: text }), 'send_message_return');
		acked.push(text);
	}
	ca.close();
	const cb = await loggedIn('ws', b);
	const got = new Set(cb.backlog.map((p) => p.message));
	cb.close();
	return { acked, missing: acked.filter((m) => !got.has(m)) };
}

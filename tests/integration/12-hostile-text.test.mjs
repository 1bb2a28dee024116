// Text is data (DESIGN.md section 3): usernames and messages holding
// quotes, backslashes, SQL and LIKE metacharacters, and 4-byte UTF-8 come
// back byte for byte wherever the server shows them; a message that is not
// valid UTF-8, or holds a NUL, is refused with "bad encoding" and never
// reaches anyone (PROTOCOL.md section 3).
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';

import { TRANSPORTS, closeAll, connect } from '../lib/client.mjs';
import { assertError, assertSuccess, pick } from '../lib/expect.mjs';
import { befriend, friendList, untilOffline } from '../lib/friends.mjs';
import { login, loggedIn, newUser } from '../lib/users.mjs';

const other = (t) => (t === 'ws' ? 'tcp' : 'ws');

const CHINESE_32 = Array.from('我们在山顶上看日出云海翻腾远处的城市还在沉睡' +
    '鸟儿开始歌唱新的一天').slice(0, 32).join('');

// Each is a valid username too: 1 to 32 characters, no control character.
const HOSTILE = [
	'say "hi"',
	'back\\slash\\',
	'\\"; \\\\',
	'100%_done',
	'%',
	'_',
	'--',
	';',
	'\' OR 1=1 --',
	'\'); DROP TABLE users; --',
	'" OR ""="',
	'`tick` /* c */ #',
	'<b>&amp;</b>',
	'\u{1F600}\u{1D11E}',
	'𝄞 clef',
	CHINESE_32,
];

const bytes = (...parts) => Buffer.concat(parts.map((p) =>
    typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p)));

for (const transport of TRANSPORTS) {
	describe(`${transport}: hostile text`, () => {
		afterEach(closeAll);

		test('usernames with quotes, backslashes, SQL and 4-byte ' +
		    'characters come back exactly from logon, login, add_friend ' +
		    'and list_friend', async () => {
			assert.equal(Array.from(CHINESE_32).length, 32);
			const x = await newUser();
			const cx = await loggedIn(other(transport), x);
			const users = [];
			for (const username of HOSTILE) {
				const u = await newUser({ transport, username });
				assert.equal(u.username, username);
				const c = await connect(transport);
				const p = await login(c, u);
				assert.equal(p.username, username);
				assertSuccess(await c.request({ command: 'add_friend',
				    src: u.id, dst: x.id, status: '0' }),
				    'add_friend_return');
				const q = await cx.next();
				assert.deepEqual(pick(q, 'command', 'src', 'username'),
				    { command: 'add_friend', src: u.id, username });
				assertSuccess(await cx.request({
				    command: 'add_friend_confirm', src: u.id, dst: x.id,
				    status: '0', message: 'confirm_two_way' }),
				    'add_friend_confirm_return');
				assertSuccess(await c.next(), 'add_friend_confirm_return');
				c.close();
				users.push(u);
			}
			users.sort((a, b) => Number(a.id) - Number(b.id));
			assert.deepEqual((await friendList(cx, x)).map((f) =>
			    pick(f, 'id', 'username')), users.map((u) =>
			    ({ id: u.id, username: u.username })));
		});

		test('messages with quotes, backslashes, %, SQL, control and ' +
		    '4-byte characters arrive exactly, live and stored',
		    async () => {
			const a = await newUser();
			const b = await newUser();
			await befriend(a, b);
			const texts = [...HOSTILE, 'tab\there\nnew line\r\n',
			    HOSTILE.join(' ')];
			const ca = await loggedIn(transport, a);
			let cb = await loggedIn(other(transport), b);
			for (const message of texts) {
				assertSuccess(await ca.request({ command: 'send_message',
				    src: a.id, dst: b.id, message }),
				    'send_message_return');
				assert.equal((await cb.next()).message, message);
			}
			cb.close();
			await untilOffline(ca, a, b);
			for (const message of texts) {
				assertSuccess(await ca.request({ command: 'send_message',
				    src: a.id, dst: b.id, message }),
				    'send_message_return');
			}
			cb = await loggedIn(transport, b);
			assert.deepEqual(cb.backlog.map((p) => p.message), texts);
		});

		test('a send_message holding invalid UTF-8 or a NUL gets error ' +
		    '"bad encoding" and never reaches the friend\'s WebSocket ' +
		    'connection', async () => {
			const a = await newUser();
			const b = await newUser();
			await befriend(a, b);
			const ca = await loggedIn(transport, a);
			const cb = await loggedIn('ws', b);
			const bad = [
				[0x61, 0xff, 0xfe],		// not UTF-8 at all
				[0xc0, 0xaf],			// overlong '/'
				[0xed, 0xa0, 0x80],		// a surrogate, encoded
				[0xf4, 0x90, 0x80, 0x80],	// past U+10FFFF
				[0xf0, 0x9f, 0x98],		// emoji cut short
				[0x61, 0x00, 0x62],		// raw NUL
				'a\\u0000b',			// escaped NUL
				'\\ud800 alone',		// unpaired surrogate
			];
			for (const raw of bad) {
				// A WebSocket text frame must be UTF-8 (else 1007);
				// sendBytes sends a binary one, read like text.
				ca.sendBytes(bytes('{"command":"send_message","src":"',
				    a.id, '","dst":"', b.id, '","message":"x ', raw,
				    ' y"}'));
				assertError(await ca.next(), 'bad encoding',
				    JSON.stringify(raw));
			}
			assertSuccess(await ca.request({ command: 'send_message',
			    src: a.id, dst: b.id, message: 'clean' }),
			    'send_message_return');
			const p = await cb.next();
			assert.deepEqual(pick(p, 'command', 'src', 'message'),
			    { command: 'send_message', src: a.id, message: 'clean' },
			    JSON.stringify(p));
			assert.equal(cb.closeInfo, null);
		});
	});
}

// The web client (web/), end to end: Debian's chromium, driven headless by
// playwright-core, against the stack's nginx, as two people would use it.
// One browser, one context per person; the tests run in order and build
// on each other (register, befriend, talk, log out, reconnect).
//
// Screenshots of the main views go to CHAT_TEST_SCREENSHOTS, or to
// screenshots/ in the stack's directory (or the system's temp directory).
// 29-web-friends has the friend menu, blocks, links and notifications.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';

import { STACK_DIR, closeAll } from '../lib/client.mjs';
import { assertSuccess } from '../lib/expect.mjs';
import { HAVE_STACK_DIR, until } from '../lib/stack.mjs';
import { loggedIn, newUser, randomPassword } from '../lib/users.mjs';
import {
	DESKTOP, PHONE, WAIT, button, field, friendItem, launch, loginIn,
	messages, openChat, person, registerIn, say, shot, skip, theirs,
} from '../lib/web.mjs';

const top = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function stackSh(...args) {
	return new Promise((resolve, reject) => {
		execFile(path.join(top, 'scripts/stack.sh'), args,
		    { cwd: top, timeout: 60000 }, (err, stdout, stderr) => {
			if (err)
				reject(new Error(`stack.sh ${args.join(' ')}: ${err.message}\n${stderr}`));
			else
				resolve(stdout);
		});
	});
}

describe('web client in chromium', { skip }, () => {
	let browser;
	let A;
	let B;
	const alice = { username: 'Alice', password: randomPassword() };
	const bob = { username: 'Bob Müller', password: randomPassword() };

	before(async () => {
		browser = await launch();
		A = await person(browser, 'A');
		B = await person(browser, 'B');
	});

	after(async () => {
		closeAll();
		await browser?.close();
	});

	test('register shows the rules first, then the new id; log in', async () => {
		const { page } = A;
		await page.getByRole('tab', { name: 'Register' }).click();
		await shot(page, 'register');
		// A short password is refused in the page, before any request.
		let posted = 0;
		page.on('request', (r) => { if (r.url().endsWith('/api/logon')) posted++; });
		await field(page, 'Username').fill('Alice');
		await field(page, 'Password').fill('short');
		await button(page, 'Register').click();
		await page.getByText(/at least 8 bytes/).first().waitFor();
		assert.equal(posted, 0);

		alice.id = await registerIn(A, alice.username, alice.password);
		assert.equal(posted, 1);
		await shot(page, 'registered');
		await loginIn(A, alice.id, alice.password);
		assert.equal(await page.locator('#me-id').textContent(), alice.id);

		bob.id = await registerIn(B, bob.username, bob.password);
		await loginIn(B, bob.id, bob.password);
		assert.notEqual(alice.id, bob.id);
	});

	test('a wrong password is told in plain words', async () => {
		const p = await person(browser, 'C');
		try {
			await field(p.page, 'Account id').fill(alice.id);
			await field(p.page, 'Password').fill('not the password');
			await button(p.page, 'Log in').click();
			await p.page.getByText('That account id and password do not match').waitFor();
			assert.deepEqual(p.errors, []);
		} finally {
			await p.context.close();
		}
	});

	// What "no script errors" below relies on: a missing asset is seen.
	test('a resource the page cannot load counts as an error', async () => {
		const p = await person(browser, 'D');
		try {
			assert.deepEqual(p.errors, []);
			await p.page.evaluate(() => new Promise((resolve) => {
				const s = document.createElement('script');
				s.src = '/no-such-asset.js';
				s.onerror = resolve;
				s.onload = resolve;
				document.head.append(s);
			}));
			await until(() => p.errors.some((e) =>
			    /^D: 404 for .*\/no-such-asset\.js$/.test(e)) &&
			    p.errors.some((e) => /^D: console: Failed to load/.test(e)),
			    `the 404 and its console error among ${p.errors}`, WAIT);
		} finally {
			await p.context.close();
		}
	});

	test('friend requests: mistakes explained, one declined, the next accepted', async () => {
		const pa = A.page;
		await field(pa, 'Friend id').fill(alice.id);
		await button(pa, 'Add friend').click();
		await pa.getByText('This is your own id').waitFor();
		await field(pa, 'Friend id').fill('999999999');
		await button(pa, 'Add friend').click();
		await pa.getByText('No account has this id').waitFor();

		await field(pa, 'Friend id').fill(bob.id);
		await button(pa, 'Add friend').click();
		await pa.getByText(`Request sent to ${bob.id}`).first().waitFor();

		let req = B.page.locator(`#request-list li[data-src="${alice.id}"]`);
		await req.getByText(alice.username).waitFor();
		await shot(B.page, 'request');
		await button(req, 'Decline').click();
		await req.waitFor({ state: 'detached' });
		await pa.getByText(`${bob.id} declined your friend request`).waitFor();

		// Again, as a special follow; this time Bob accepts.
		await field(pa, 'Friend id').fill(bob.id);
		await pa.getByRole('checkbox', { name: 'Special follow', exact: true }).check();
		await button(pa, 'Add friend').click();
		req = B.page.locator(`#request-list li[data-src="${alice.id}"]`);
		await button(req, 'Accept').click();
		await req.waitFor({ state: 'detached' });

		await friendItem(pa, bob.id).waitFor();
		await friendItem(B.page, alice.id).waitFor();
		await pa.getByText('accepted your friend request').waitFor();
		// Alice follows Bob specially (a star), Bob does not; both online.
		await friendItem(pa, bob.id).locator('.star').waitFor();
		assert.equal(await friendItem(B.page, alice.id).locator('.star').count(), 0);
		await friendItem(pa, bob.id).locator('.dot.online').waitFor();
		await friendItem(B.page, alice.id).locator('.dot.online').waitFor();
		assert.match(await friendItem(pa, bob.id).textContent(), new RegExp(bob.id));
	});

	test('messages both ways: unread count, times, Shift+Enter, too long refused', async () => {
		await openChat(A, bob.id);
		await say(A, 'Hello Bob! Are you coming tonight?');
		const badge = friendItem(B.page, alice.id).locator('.badge');
		await badge.waitFor();
		assert.match(await badge.textContent(), /^1/);
		await openChat(B, alice.id);
		await theirs(B, 'Hello Bob! Are you coming tonight?').waitFor();
		assert.equal(await badge.count(), 0);
		const time = await B.page.locator('#messages .msg.theirs time').first()
		    .getAttribute('datetime');
		assert.ok(Math.abs(Date.parse(time) - Date.now()) < 120000, time);

		await say(B, 'Hi Alice!\nYes, I’ll be there around eight.');
		await theirs(A, 'Hi Alice!').waitFor();
		assert.equal(await theirs(A, 'Hi Alice!').textContent(),
		    'Hi Alice!\nYes, I’ll be there around eight.');
		await say(A, 'Great. Could you bring the board game?');
		await say(A, 'The one with the trains and the map of Europe.');
		await theirs(B, 'The one with the trains').waitFor();
		await say(B, 'Sure, see you later!');
		await theirs(A, 'Sure, see you later!').waitFor();

		// Too long for a 2048-byte packet: refused by the page.
		const before = await messages(A.page).count();
		const box = field(A.page, 'Message');
		await box.fill('é'.repeat(1000));
		await A.page.getByText(/Too long by \d+ bytes/).waitFor();
		await box.press('Enter');
		await A.page.getByText('This message is too long to send').waitFor();
		assert.equal(await messages(A.page).count(), before);
		assert.equal((await box.inputValue()).length, 1000);
		await box.fill('');

		// The newest message is in view.
		assert.ok(await A.page.locator('#messages .msg').last().isVisible());
		await shot(A.page, 'chat');
		await A.page.setViewportSize(PHONE);
		await shot(A.page, 'chat-phone');
		// One's own id stays in view, the name gives way first.
		const me = await A.page.locator('#me-id').boundingBox();
		assert.ok(me && me.x >= 0 && me.x + me.width <= PHONE.width,
		    `own id at ${JSON.stringify(me)}`);
		await button(A.page, 'Back to friends').click();
		await friendItem(A.page, bob.id).waitFor();
		await shot(A.page, 'friends-phone');
		await friendItem(A.page, bob.id).click();
		await A.page.setViewportSize(DESKTOP);
	});

	test('a message sent while the friend is logged out comes at its next login', async () => {
		const pb = B.page;
		await button(pb, 'Log out').click();
		await button(pb, 'Log in').waitFor();
		// The id is remembered, never the password.
		assert.equal(await field(pb, 'Account id').inputValue(), bob.id);
		assert.equal(await field(pb, 'Password').inputValue(), '');
		// Nor the conversation: the next person at this computer
		// must not read it.
		const stored = await pb.evaluate(() =>
		    JSON.stringify([localStorage, sessionStorage]));
		assert.ok(!stored.includes(bob.password), 'password in storage');
		for (const text of ['Hello Bob!', 'Sure, see you later!', alice.id])
			assert.ok(!stored.includes(text), `${text} in storage: ${stored}`);

		await say(A, 'Are you there?');
		// Back in with the keyboard alone: the password field has the
		// focus, Enter logs in, then the first friend gets it.
		assert.equal(await pb.evaluate(() => document.activeElement.id),
		    'login-password');
		await pb.keyboard.type(bob.password);
		await pb.keyboard.press('Enter');
		const badge = friendItem(pb, alice.id).locator('.badge');
		await badge.waitFor();
		await pb.waitForFunction((id) =>
		    document.activeElement?.dataset?.id === id, alice.id);
		await pb.keyboard.press('Enter');
		await theirs(B, 'Are you there?').waitFor();
		assert.equal(await pb.evaluate(() => document.activeElement.id), 'message');
		await pb.keyboard.type('Yes, back now.');
		await pb.keyboard.press('Enter');
		await theirs(A, 'Yes, back now.').waitFor();
		// What waited comes once; what was read before the logout was
		// gone from this browser, and comes back from the server's
		// history, once.
		assert.equal(await theirs(B, 'Are you there?').count(), 1);
		await theirs(B, 'Hello Bob!').waitFor();
		assert.equal(await theirs(B, 'Hello Bob!').count(), 1);
	});

	let tcpUser;
	let tcp;
	test('a browser user and a raw TCP client talk to each other', async () => {
		tcpUser = await newUser({ transport: 'tcp', username: '小明 (native)' });
		tcp = await loggedIn('tcp', tcpUser);
		await field(A.page, 'Friend id').fill(tcpUser.id);
		await button(A.page, 'Add friend').click();
		const ask = await tcp.next();
		assert.equal(ask.command, 'add_friend');
		assert.equal(ask.src, alice.id);
		assert.equal(ask.username, alice.username);
		tcp.send({ command: 'add_friend_confirm', src: alice.id,
		    dst: tcpUser.id, status: '0', message: 'confirm_two_way' });
		assertSuccess(await tcp.next(), 'add_friend_confirm_return');
		await friendItem(A.page, tcpUser.id).waitFor();

		await openChat(A, tcpUser.id);
		await say(A, 'hello native client');
		const got = await tcp.next();
		assert.equal(got.command, 'send_message');
		assert.equal(got.src, alice.id);
		assert.equal(got.message, 'hello native client');
		assertSuccess(await tcp.request({ command: 'send_message',
		    src: tcpUser.id, dst: alice.id, message: 'hello browser, 你好 👋' }),
		    'send_message_return');
		await theirs(A, 'hello browser, 你好 👋').waitFor();

		// The page measures a message as the server does: the longest
		// one it lets through is taken, one byte more is refused.
		const tricky = 'quote " backslash \\ tab \t newline \n é 你 😀 <&> ';
		const size = (m) => A.page.evaluate(([src, dst, msg]) =>
		    import('/protocol.js').then((p) => p.deliveredSize(src, dst, msg)),
		    [tcpUser.id, alice.id, m]);
		const longest = tricky + 'a'.repeat(2048 - await size(tricky));
		assert.equal(await size(longest), 2048);
		assertSuccess(await tcp.request({ command: 'send_message',
		    src: tcpUser.id, dst: alice.id, message: longest }),
		    'send_message_return');
		const refused = await tcp.request({ command: 'send_message',
		    src: tcpUser.id, dst: alice.id, message: longest + 'a' });
		assert.equal(refused.detail, 'message too long');
		await A.page.locator('#messages .msg.theirs .bubble').filter({
		    hasText: 'a'.repeat(1500) }).waitFor();
		await friendItem(A.page, tcpUser.id).getByText(tcpUser.username).waitFor();
	});

	test('the page reconnects by itself after the push daemon restarts', {
		skip: !HAVE_STACK_DIR && 'needs the stack directory (CHAT_TEST_DIR)',
	}, async () => {
		const conn = A.page.locator('#conn');
		assert.equal(await conn.getAttribute('data-state'), 'online');
		A.offline = B.offline = true;
		await stackSh('restart-daemon', '--dir', STACK_DIR);
		await tcp.closed();
		await A.page.locator('#conn:not([data-state=online])').waitFor();
		await shot(A.page, 'reconnecting');
		await A.page.locator('#conn[data-state=online]').waitFor({ timeout: 30000 });
		await B.page.locator('#conn[data-state=online]').waitFor({ timeout: 30000 });
		A.offline = B.offline = false;

		tcp = await loggedIn('tcp', tcpUser);
		assertSuccess(await tcp.request({ command: 'send_message',
		    src: tcpUser.id, dst: alice.id, message: 'still there after the restart?' }),
		    'send_message_return');
		await theirs(A, 'still there after the restart?').waitFor();
		await say(A, 'yes, reconnected');
		const got = await tcp.next();
		assert.equal(got.message, 'yes, reconnected');

		// And between the two pages.
		await openChat(B, alice.id);
		await say(B, 'me too');
		await friendItem(A.page, bob.id).locator('.badge').waitFor();
		await openChat(A, bob.id);
		await theirs(A, 'me too').waitFor();
		assert.equal(await theirs(A, 'Sure, see you later!').count(), 1);
	});

	test('after a reload the id is remembered and the history kept, each message once', async () => {
		const pb = B.page;
		await pb.reload();
		assert.equal(await field(pb, 'Account id').inputValue(), bob.id);
		await field(pb, 'Password').fill(bob.password);
		await button(pb, 'Log in').click();
		await openChat(B, alice.id);
		await theirs(B, 'Are you there?').waitFor();
		assert.equal(await theirs(B, 'Are you there?').count(), 1);
		assert.equal(await pb.locator('#messages .msg.mine .bubble',
		    { hasText: 'Yes, back now.' }).count(), 1);
	});

	test('no script errors in the pages', () => {
		assert.deepEqual([...A.errors, ...B.errors], []);
	});
});

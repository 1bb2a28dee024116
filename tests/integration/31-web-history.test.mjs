// The web client and the server's second release, in chromium: a
// conversation paged in from history, complete in a fresh browser; ticks
// on one's own messages (sent, delivered, read) and read sent only for a
// conversation a visible page shows; live presence dots; carbons between
// two tabs of one account; 360 px.
//
// Ann and Ben are pages; Ben also has a raw TCP connection for the bulk
// of the conversation.  The tests run in order and build on each other.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { BASE_URL, closeAll } from '../lib/client.mjs';
import { assertSuccess } from '../lib/expect.mjs';
import { befriend } from '../lib/friends.mjs';
import { loggedIn, newUser } from '../lib/users.mjs';
import {
	PHONE, button, field, friendItem, launch, loginIn, openChat, person,
	say, shot, skip,
} from '../lib/web.mjs';

// In the page before its scripts: document.visibilityState as the test
// sets it (headless chromium never hides a page by itself).
function controlVisibility() {
	const state = Object.getOwnPropertyDescriptor(Document.prototype, 'visibilityState');
	let forced = null;
	Object.defineProperty(Document.prototype, 'visibilityState', {
		configurable: true,
		get() { return forced ?? state.get.call(this); },
	});
	window.__setHidden = (on) => {
		forced = on ? 'hidden' : null;
		document.dispatchEvent(new Event('visibilitychange'));
	};
}

const TOTAL = 110;	// three pages of 50
const text = (i) => `m${String(i).padStart(3, '0')} from ${i % 2 ? 'Ben' : 'Ann'}`;

// Sends packet on c and returns its answer, past the messages that come
// to the account meanwhile.
async function answer(c, packet) {
	c.send(packet);
	for (;;) {
		const p = await c.next();
		if (p.command === `${packet.command}_return`)
			return p;
	}
}

const bubbles = (page) => page.locator('#messages .msg .bubble').allTextContents();
const own = (page, t) => page.locator('#messages .msg.mine').filter({ hasText: t });
const tickOf = (page, t) => own(page, t).locator('.tick');
const start = (page) => page.getByText('This is the start of your conversation');

describe('web client: history, ticks, presence, carbons', { skip }, () => {
	let browser;
	let A;
	let B;
	let ann;
	let ben;
	let benTcp;
	let ids;

	before(async () => {
		browser = await launch();
		ann = await newUser({ transport: 'tcp', username: 'Ann' });
		ben = await newUser({ transport: 'tcp', username: 'Ben' });
		await befriend(ann, ben, 'tcp', 'tcp');
		A = await person(browser, 'A');
		await loginIn(A, ann.id, ann.password);
	});

	after(async () => {
		closeAll();
		await browser?.close();
	});

	test(`${TOTAL} messages both ways; a fresh browser pages them all in ` +
	    'from history, in order, each once, nothing moving', async () => {
		benTcp = await loggedIn('tcp', ben);
		await openChat(A, ben.id);
		for (let i = 0; i < TOTAL; i++) {
			if (i % 2 === 0) {
				await say(A, text(i));
			} else {
				assertSuccess(await answer(benTcp, { command: 'send_message',
				    src: ben.id, dst: ann.id, message: text(i) }),
				    'send_message_return');
				// Under the 50 packets a second of an account.
				await sleep(30);
			}
		}
		await A.page.locator('#messages .msg .bubble', { hasText: text(TOTAL - 1) }).waitFor();
		const want = Array.from({ length: TOTAL }, (_, i) => text(i));
		assert.deepEqual(await bubbles(A.page), want);

		// A fresh context: no storage.  The newest page first.
		const F = await person(browser, 'F');
		try {
			await loginIn(F, ann.id, ann.password);
			await openChat(F, ben.id);
			const page = F.page;
			await page.locator('#messages .msg .bubble', { hasText: text(TOTAL - 1) }).waitFor();
			await page.waitForFunction(() =>
			    document.querySelectorAll('#messages .msg').length === 50);
			assert.deepEqual(await bubbles(page), want.slice(-50));

			// The next page by keyboard.
			await button(page, 'Load older messages').focus();
			await page.keyboard.press('Enter');
			await page.waitForFunction(() =>
			    document.querySelectorAll('#messages .msg').length === 100);
			assert.deepEqual(await bubbles(page), want.slice(-100));

			// The last by scrolling up: what was in view stays put.
			// Measured as the scroll happens, before the page can
			// answer it.
			const was = await page.locator('#messages').evaluate((el) => {
				el.scrollTop = 0;
				return { y: el.querySelector('.msg').getBoundingClientRect().y };
			});
			await start(page).waitFor();
			const now = await page.locator('#messages .msg', { hasText: want[TOTAL - 100] })
			    .boundingBox();
			assert.ok(Math.abs(now.y - was.y) <= 1,
			    `the message in view moved from ${was.y} to ${now.y}`);
			assert.deepEqual(await bubbles(page), want);
			ids = await page.locator('#messages .msg').evaluateAll((els) =>
			    els.map((el) => el.dataset.msgId));
			assert.equal(new Set(ids).size, TOTAL);
			for (let i = 1; i < ids.length; i++)
				assert.ok(BigInt(ids[i]) > BigInt(ids[i - 1]), `order at ${i}`);
			// Ben's TCP connection got Ann's messages, but read none.
			assert.deepEqual(await tickOf(page, text(0)).textContent(), '✓✓ Delivered');
			assert.equal(await page.locator('#messages .tick.read').count(), 0);

			// At 360 px the conversation fits, ticks included.
			await page.setViewportSize(PHONE);
			await tickOf(page, text(TOTAL - 2)).waitFor();
			const box = await tickOf(page, text(TOTAL - 2)).boundingBox();
			assert.ok(box.x >= 0 && box.x + box.width <= PHONE.width, JSON.stringify(box));
			assert.equal(await page.evaluate(() => document.documentElement.scrollWidth),
			    PHONE.width);
			await shot(page, 'history-phone');
			assert.deepEqual(F.errors, []);
		} finally {
			await F.context.close();
		}
		// The page that sent them learnt their ids too.
		assert.deepEqual(await A.page.locator('#messages .msg').evaluateAll((els) =>
		    els.map((el) => el.dataset.msgId)), ids);
	});

	test('ticks: sent while the friend is away, delivered when their page ' +
	    'logs in, read only once it shows the conversation', async () => {
		benTcp.close();
		await sleep(300);
		const pa = A.page;
		await say(A, 'are you reading?');
		const tick = tickOf(pa, 'are you reading?');
		await tick.getByText('Sent').waitFor();
		assert.equal(await tick.textContent(), '✓ Sent');

		B = await person(browser, 'B', { init: controlVisibility });
		await loginIn(B, ben.id, ben.password);
		await tick.getByText('Delivered').waitFor();
		// Open, but in a hidden tab: not read.
		await B.page.evaluate(() => window.__setHidden(true));
		await friendItem(B.page, ann.id).click();
		await B.page.locator('#messages .msg.theirs', { hasText: 'are you reading?' }).waitFor();
		await sleep(1000);
		assert.equal(await tick.textContent(), '✓✓ Delivered');
		await shot(pa, 'ticks-delivered');

		await B.page.evaluate(() => window.__setHidden(false));
		await tick.getByText('Read').waitFor();
		assert.equal(await tick.textContent(), '✓✓ Read');
		// The older ones too: none was acked by an ack-mode
		// connection of Ben's, so his page got them all at login.
		await tickOf(pa, text(0)).getByText('Read').waitFor();
		await shot(pa, 'ticks-read');

		// Ben's messages shown live while his conversation is open in
		// a visible page: Ann's page marks them read at once.
		await say(B, 'yes, all of it');
		await own(B.page, 'yes, all of it').locator('.tick').getByText('Read').waitFor();
	});

	test('a friend\'s dot follows presence at once: closing the browser, ' +
	    'logging in again', async () => {
		const dot = friendItem(A.page, ben.id).locator('.dot');
		await friendItem(A.page, ben.id).locator('.dot.online').waitFor({ timeout: 3000 });
		assert.match(await friendItem(A.page, ben.id).textContent(), /, online/);
		await B.context.close();
		await friendItem(A.page, ben.id).locator('.dot.offline').waitFor({ timeout: 3000 });
		await A.page.locator('#chat-sub', { hasText: 'offline' }).waitFor({ timeout: 3000 });
		assert.match(await friendItem(A.page, ben.id).textContent(), /, offline/);
		assert.equal(await dot.getAttribute('class'), 'dot offline');

		B = await person(browser, 'B2');
		await loginIn(B, ben.id, ben.password);
		await friendItem(A.page, ben.id).locator('.dot.online').waitFor({ timeout: 3000 });
		await A.page.locator('#chat-sub', { hasText: 'online' }).waitFor({ timeout: 3000 });
	});

	test('two tabs of one account show the same conversation: what one ' +
	    'sends, the other shows as its own', async () => {
		const T = { ...A, page: await A.context.newPage() };
		T.page.on('pageerror', (e) => A.errors.push(`T: ${e.message}`));
		await T.page.goto(`${BASE_URL}/`);
		await loginIn(T, ann.id, ann.password);
		await openChat(T, ben.id);
		await say(A, 'from the first tab');
		await own(T.page, 'from the first tab').waitFor();
		await say(T, 'from the second tab');
		await own(A.page, 'from the second tab').waitFor();
		// Ben is online: both tabs see it delivered.
		await own(T.page, 'from the first tab').locator('.tick')
		    .getByText('Delivered').waitFor();
		await own(A.page, 'from the second tab').locator('.tick')
		    .getByText('Delivered').waitFor();
		assert.equal(await own(T.page, 'from the first tab').count(), 1);
		assert.equal(await own(A.page, 'from the second tab').count(), 1);
		assert.equal(await A.page.locator('#messages .msg.theirs', { hasText: 'from the' }).count(), 0);
		await T.page.close();
	});

	test('no script errors in the pages', () => {
		assert.deepEqual([...A.errors, ...B.errors], []);
	});
});

// The web client's friend lifecycle and what a person's walk through the
// page found, in chromium: a friend's menu with remove and block, each
// asked in a dialog first; the blocked accounts and unblock; sent requests
// and their withdrawal; the special follow chosen when accepting; clicks
// that land while notices come and go; links in messages, and markup that
// stays text; a notification for a hidden tab; 360 px.
//
// Two people use pages (Ann and Ben); the others are raw TCP clients, as
// in 10-web.  The tests run in order and build on each other.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { BASE_URL, closeAll } from '../lib/client.mjs';
import { assertSuccess } from '../lib/expect.mjs';
import { befriend } from '../lib/friends.mjs';
import { loggedIn, newUser, randomPassword } from '../lib/users.mjs';
import {
	DESKTOP, PHONE, button, field, friendItem, launch, loginIn, messages,
	person, registerIn, shot, skip, theirs,
} from '../lib/web.mjs';

// In the page before its scripts: document.visibilityState as the test
// sets it (headless chromium never hides a page by itself), and every
// Notification the page makes recorded with the visibility it was made
// in, as is every permission request.
function observeNotifications() {
	const state = Object.getOwnPropertyDescriptor(Document.prototype, 'visibilityState');
	const hidden = Object.getOwnPropertyDescriptor(Document.prototype, 'hidden');
	let forced = null;
	Object.defineProperty(Document.prototype, 'visibilityState', {
		configurable: true,
		get() { return forced ?? state.get.call(this); },
	});
	Object.defineProperty(Document.prototype, 'hidden', {
		configurable: true,
		get() { return forced ? forced === 'hidden' : hidden.get.call(this); },
	});
	window.__setHidden = (on) => {
		forced = on ? 'hidden' : null;
		document.dispatchEvent(new Event('visibilitychange'));
	};
	const Real = window.Notification;
	window.__notes = [];
	window.__asked = 0;
	class Observed extends Real {
		constructor(title, options = {}) {
			super(title, options);
			window.__notes.push({ title, body: options.body,
			    visibility: document.visibilityState });
		}
	}
	Observed.requestPermission = (...args) => {
		window.__asked++;
		return Real.requestPermission(...args);
	};
	window.Notification = Observed;
}

const more = (page, label) => button(page, `More for ${label}`);
const menuItem = (page, name) => page.getByRole('menuitem', { name, exact: true });
const dialog = (page, name) => page.getByRole('dialog', { name, exact: true });
const requestCard = (page, id) => page.locator(`#request-list li[data-src="${id}"]`);
const focused = (page) => page.evaluate(() => {
	const el = document.activeElement;
	return el?.dataset?.menu ? `menu ${el.dataset.menu}` :
	    el?.dataset?.id ? `friend ${el.dataset.id}` : el?.id || el?.tagName;
});

// The next packet on c that is command, past others.
async function nextOf(c, command) {
	for (;;) {
		const p = await c.next();
		if (p.command === command)
			return p;
	}
}

// Sends packet on c and returns its answer, past the notices that come to
// the account meanwhile (c may be a connection of a page's account).
async function answer(c, packet) {
	c.send(packet);
	return nextOf(c, `${packet.command}_return`);
}

// The whole of a list (list_friend, list_blocked), its parts joined.
async function listOf(c, command, id, field) {
	const items = [];
	let p = await answer(c, { command, id });
	for (;;) {
		assertSuccess(p, `${command}_return`);
		items.push(...p[field]);
		if (!p.more)
			return items;
		p = await nextOf(c, `${command}_return`);
	}
}

async function blockedOf(c, u) {
	return (await listOf(c, 'list_blocked', u.id, 'blocked')).map((b) => b.id);
}

async function friendIds(c, u) {
	return (await listOf(c, 'list_friend', u.id, 'friends')).map((f) => f.id);
}

describe('web client: friends, blocks, links, notifications', { skip }, () => {
	let browser;
	let A;
	let B;
	const ann = { username: 'Ann', password: randomPassword() };
	const ben = { username: 'Ben', password: randomPassword() };
	let annTcp;	// a connection of Ann's own account, to ask the server

	before(async () => {
		browser = await launch();
		A = await person(browser, 'A', { init: observeNotifications });
		B = await person(browser, 'B');
		ann.id = await registerIn(A, ann.username, ann.password);
		await loginIn(A, ann.id, ann.password);
		ben.id = await registerIn(B, ben.username, ben.password);
		await loginIn(B, ben.id, ben.password);
		annTcp = await loggedIn('tcp', ann);
	});

	after(async () => {
		closeAll();
		await browser?.close();
	});

	test('accepting can make a special follow; the new friend opens ' +
	    'with one click, for both people', async () => {
		await field(A.page, 'Friend id').fill(ben.id);
		await button(A.page, 'Add friend').click();
		const card = requestCard(B.page, ann.id);
		await card.getByText(ann.username).waitFor();
		await card.getByRole('checkbox', { name: `Special follow for ${ann.username}` }).check();
		await button(card, 'Accept').click();
		for (const [p, id, name] of [[A, ben.id, ben.username],
		    [B, ann.id, ann.username]]) {
			await friendItem(p.page, id).waitFor();
			await friendItem(p.page, id).click();
			await p.page.locator('#chat-title', { hasText: name }).waitFor({ timeout: 3000 });
			assert.equal(await focused(p.page), 'message');
		}
		// Ben chose the special follow, Ann did not.
		await friendItem(B.page, ann.id).locator('.star').waitFor();
		assert.equal(await friendItem(A.page, ben.id).locator('.star').count(), 0);
		assert.deepEqual((await listOf(annTcp, 'list_friend', ann.id, 'friends'))
		    .map((f) => [f.id, f.status]), [[ben.id, '0']]);
	});

	let carl;
	let carlTcp;
	let benTcp;
	test('nothing moves under the pointer when a request comes or goes, ' +
	    'and a click that spans a re-render still opens the friend', async () => {
		carl = await newUser({ transport: 'tcp', username: 'Carl' });
		carlTcp = await loggedIn('tcp', carl);
		benTcp = await loggedIn('tcp', ben);
		const finn = await newUser({ transport: 'tcp', username: 'Finn' });
		await befriend(finn, ann, 'tcp', 'tcp');
		const pa = A.page;
		await friendItem(pa, finn.id).click();
		await pa.locator('#chat-title', { hasText: 'Finn' }).waitFor();
		const row = friendItem(pa, ben.id);
		const at = await row.boundingBox();

		// Pressed while Carl's request arrives and Ben's message
		// changes the row: released, it opens Ben's conversation.
		await pa.mouse.move(at.x + 40, at.y + at.height / 2);
		await pa.mouse.down();
		await answer(carlTcp, { command: 'add_friend', src: carl.id, dst: ann.id, status: '0' });
		await requestCard(pa, carl.id).waitFor();
		assert.deepEqual(await row.boundingBox(), at, 'the row moved as the request came');
		assertSuccess(await answer(benTcp, { command: 'send_message',
		    src: ben.id, dst: ann.id, message: 'pressed meanwhile' }),
		    'send_message_return');
		await row.getByText('pressed meanwhile').waitFor();
		await pa.mouse.up();
		await theirs(A, 'pressed meanwhile').waitFor({ timeout: 3000 });
		assert.equal(await pa.locator('#chat-title').textContent(), ben.username);

		// Carl withdraws: the card goes live, nothing else moves.
		assertSuccess(await answer(carlTcp, { command: 'cancel_friend',
		    src: carl.id, dst: ann.id }), 'cancel_friend_return');
		await requestCard(pa, carl.id).waitFor({ state: 'detached' });
		assert.deepEqual(await row.boundingBox(), at, 'the row moved as the request went');
		// Asks again, is declined: the answer's notice moves nothing.
		await answer(carlTcp, { command: 'add_friend', src: carl.id, dst: ann.id, status: '0' });
		await button(requestCard(pa, carl.id), 'Decline').click();
		await pa.getByText(`You declined the request of Carl (${carl.id})`).waitFor();
		assert.deepEqual(await row.boundingBox(), at, 'the row moved for a notice');
		await shot(pa, 'notices');

		// Ann removes Finn from another connection of hers: the page
		// follows the notice.
		assertSuccess(await answer(annTcp, { command: 'remove_friend',
		    src: ann.id, dst: finn.id }), 'remove_friend_return');
		await friendItem(pa, finn.id).waitFor({ state: 'detached' });
		assert.deepEqual(await row.boundingBox(), at);
	});

	let dora;
	let doraTcp;
	test('a sent request is listed, kept over a reload, and withdrawn ' +
	    'with one button; the recipient is told', async () => {
		dora = await newUser({ transport: 'tcp', username: 'Dora' });
		doraTcp = await loggedIn('tcp', dora);
		const pa = A.page;
		await field(pa, 'Friend id').fill(dora.id);
		await pa.getByRole('checkbox', { name: 'Special follow', exact: true }).check();
		await button(pa, 'Add friend').click();
		const ask = await nextOf(doraTcp, 'add_friend');
		assert.equal(ask.src, ann.id);
		const sent = pa.locator(`#sent-list li[data-dst="${dora.id}"]`);
		await sent.getByText(`Request sent to ${dora.id} (special follow)`).waitFor();

		await pa.reload();
		await loginIn(A, ann.id, ann.password);
		await sent.waitFor();
		await button(pa, `Withdraw the request to ${dora.id}`).click();
		await sent.waitFor({ state: 'detached' });
		const gone = await nextOf(doraTcp, 'cancel_friend');
		assert.deepEqual([gone.src, gone.dst], [ann.id, dora.id]);
		await pa.locator('#sent').waitFor({ state: 'hidden' });
		// Dora's answer now finds nothing to confirm.
		const r = await answer(doraTcp, { command: 'add_friend_confirm',
		    src: ann.id, dst: dora.id, status: '0' });
		assert.equal(r.detail, 'no pending request');
	});

	test('remove asks first, Escape keeps the friend; confirmed, both ' +
	    'pages drop the friend at once', async () => {
		const pa = A.page;
		// By keyboard: the menu button, Enter, the first item.
		await more(pa, ben.username).focus();
		await pa.keyboard.press('Enter');
		await menuItem(pa, 'Remove friend…').waitFor();
		assert.equal(await pa.evaluate(() => document.activeElement.textContent),
		    'Remove friend…');
		await shot(pa, 'friend-menu');
		await pa.keyboard.press('Enter');
		const ask = dialog(pa, `Remove ${ben.username}?`);
		await ask.waitFor();
		assert.equal(await pa.evaluate(() => document.activeElement.id), 'confirm-cancel');
		await shot(pa, 'confirm-remove');
		await pa.keyboard.press('Escape');
		await ask.waitFor({ state: 'hidden' });
		assert.equal(await focused(pa), `menu ${ben.id}`);
		assert.deepEqual(await friendIds(annTcp, ann), [ben.id]);
		await friendItem(pa, ben.id).waitFor();

		// Cancel by the button is the same.
		await more(pa, ben.username).click();
		await menuItem(pa, 'Remove friend…').click();
		await button(ask, 'Cancel').click();
		await ask.waitFor({ state: 'hidden' });
		assert.deepEqual(await friendIds(annTcp, ann), [ben.id]);

		// Ben has Ann's conversation open when she removes him.
		await friendItem(B.page, ann.id).click();
		await more(pa, ben.username).click();
		await menuItem(pa, 'Remove friend…').click();
		await button(ask, 'Remove').click();
		// At the answer, long before the next refresh of the list.
		await friendItem(pa, ben.id).waitFor({ state: 'detached', timeout: 3000 });
		await friendItem(B.page, ann.id).waitFor({ state: 'detached' });
		await B.page.getByText(`You and ${ann.username} (${ann.id}) are no longer friends`).waitFor();
		await B.page.locator('#chat-main').waitFor({ state: 'hidden' });
		assert.deepEqual(await friendIds(annTcp, ann), []);
		// What Ann's browser kept of the conversation is gone too.
		assert.ok(!(await pa.evaluate(() => JSON.stringify(localStorage)))
		    .includes('pressed meanwhile'));
	});

	test('block asks first, Cancel blocks nothing; confirmed, the ' +
	    'friendship ends, the account is listed, unblock lifts it', async () => {
		const pa = A.page;
		const pb = B.page;
		// Friends again, Ben asking this time.
		await field(pb, 'Friend id').fill(ann.id);
		await button(pb, 'Add friend').click();
		await button(requestCard(pa, ben.id), 'Accept').click();
		await friendItem(pa, ben.id).waitFor();
		await friendItem(pb, ann.id).waitFor();

		await more(pa, ben.username).click();
		await menuItem(pa, 'Block…').click();
		const ask = dialog(pa, `Block ${ben.username}?`);
		await ask.getByText('are not told of the block').waitFor();
		await button(ask, 'Cancel').click();
		await ask.waitFor({ state: 'hidden' });
		assert.deepEqual(await blockedOf(annTcp, ann), []);
		assert.deepEqual(await friendIds(annTcp, ann), [ben.id]);
		assert.ok(await pa.locator('#blocked').isHidden());

		// By keyboard: open, the last item (Block), confirm with Tab
		// to the Block button and Enter.
		await more(pa, ben.username).focus();
		await pa.keyboard.press('ArrowUp');
		assert.equal(await pa.evaluate(() => document.activeElement.textContent), 'Block…');
		await pa.keyboard.press('Enter');
		await ask.waitFor();
		await pa.keyboard.press('Tab');
		assert.equal(await pa.evaluate(() => document.activeElement.id), 'confirm-ok');
		await pa.keyboard.press('Enter');
		await ask.waitFor({ state: 'hidden' });
		await friendItem(pa, ben.id).waitFor({ state: 'detached', timeout: 3000 });
		const listed = pa.locator(`#blocked-list li[data-id="${ben.id}"]`);
		await listed.getByText(`${ben.username} (${ben.id})`).waitFor();
		await friendItem(pb, ann.id).waitFor({ state: 'detached' });
		assert.deepEqual(await blockedOf(annTcp, ann), [ben.id]);
		assert.deepEqual(await friendIds(annTcp, ann), []);
		await shot(pa, 'blocked');

		// Ben's request now reaches nobody, and his page cannot tell.
		await field(pb, 'Friend id').fill(ann.id);
		await button(pb, 'Add friend').click();
		await pb.getByText(`Request sent to ${ann.id}`).waitFor();
		await answer(carlTcp, { command: 'add_friend', src: carl.id, dst: ann.id, status: '0' });
		await requestCard(pa, carl.id).waitFor();
		assert.equal(await requestCard(pa, ben.id).count(), 0);
		await button(requestCard(pa, carl.id), 'Decline').click();

		await button(pa, `Unblock ${ben.username}`).click();
		await listed.waitFor({ state: 'detached' });
		await pa.locator('#blocked').waitFor({ state: 'hidden' });
		assert.deepEqual(await blockedOf(annTcp, ann), []);
		// The unblock brings nothing back: no friend, no request.
		assert.equal(await friendItem(pa, ben.id).count(), 0);
		assert.equal(await requestCard(pa, ben.id).count(), 0);
	});

	let eve;
	let eveTcp;
	test('links are links only for http and https; markup and ' +
	    'javascript: stay text', async () => {
		eve = await newUser({ transport: 'tcp', username: 'Eve' });
		await befriend(eve, ann, 'tcp', 'tcp');
		eveTcp = await loggedIn('tcp', eve);
		const pa = A.page;
		await friendItem(pa, eve.id).click();
		const link = `${BASE_URL}/?from=chat`;
		const text = '<img src=x onerror="window.__pwned=1"> ' +
		    '<a href="javascript:window.__pwned=2">x</a> ' +
		    'javascript:window.__pwned=3 JaVaScRiPt:alert(1) data:text/html,hi ' +
		    `<script>window.__pwned=4</script> see ${link}.`;
		assertSuccess(await answer(eveTcp, { command: 'send_message',
		    src: eve.id, dst: ann.id, message: text }), 'send_message_return');
		const bubble = theirs(A, 'see http');
		await bubble.waitFor();
		assert.equal(await bubble.textContent(), text);
		assert.equal(await pa.locator('#messages img, #messages script').count(), 0);
		const anchors = await bubble.locator('a').evaluateAll((as) =>
		    as.map((a) => [a.getAttribute('href'), a.textContent, a.target, a.rel]));
		assert.deepEqual(anchors, [[link, link, '_blank', 'noopener noreferrer']]);
		assert.equal(await pa.evaluate(() => window.__pwned), undefined);

		// It opens in a new tab that has no hold on the chat.
		const [tab] = await Promise.all([
			A.context.waitForEvent('page'),
			bubble.locator('a').click(),
		]);
		await tab.waitForLoadState();
		assert.equal(tab.url(), link);
		assert.equal(await tab.evaluate(() => window.opener), null);
		await tab.close();

		// The splitting itself, on what a person might write.
		const parts = await pa.evaluate(() => import('/linkify.js').then((m) => [
			'(see https://en.wikipedia.org/wiki/Foo_(bar))',
			'https:// nothing, http://a.example/x?y=1&z=2, "https://b.example/"',
			'javascript:alert(1)//http://c.example',
		].map((t) => m.splitLinks(t).filter((p) => p.href).map((p) => p.href))));
		assert.deepEqual(parts, [
			['https://en.wikipedia.org/wiki/Foo_(bar)'],
			['http://a.example/x?y=1&z=2', 'https://b.example/'],
			['http://c.example/'],
		]);
	});

	test('a message in a hidden tab makes a notification, once the person ' +
	    'allowed it from the page', async () => {
		const pa = A.page;
		await A.context.grantPermissions(['notifications'], { origin: BASE_URL });
		const notes = () => pa.evaluate(() => window.__notes);
		const hideAndSend = async (message) => {
			await pa.evaluate(() => window.__setHidden(true));
			assertSuccess(await answer(eveTcp, { command: 'send_message',
			    src: eve.id, dst: ann.id, message }), 'send_message_return');
			await theirs(A, message).waitFor();
			await pa.evaluate(() => window.__setHidden(false));
		};
		// Allowed by the browser but not turned on in the page: nothing.
		await hideAndSend('before you asked');
		assert.deepEqual(await notes(), []);

		await pa.getByLabel('Notify me of new messages').check();
		await hideAndSend('while hidden\nsecond line');
		assert.deepEqual(await notes(), [{ title: eve.username,
		    body: 'while hidden', visibility: 'hidden' }]);
		// Visible: the page itself shows it.
		assertSuccess(await answer(eveTcp, { command: 'send_message',
		    src: eve.id, dst: ann.id, message: 'while visible' }),
		    'send_message_return');
		await theirs(A, 'while visible').waitFor();
		assert.equal((await notes()).length, 1);
		// Turned off again: nothing.
		await pa.getByLabel('Notify me of new messages').uncheck();
		await hideAndSend('after turning off');
		assert.equal((await notes()).length, 1);
		// Allowed already, so the page did not ask.
		assert.equal(await pa.evaluate(() => window.__asked), 0);
	});

	test('the page asks for the permission only when the person turns ' +
	    'notifications on, and says so when the browser refuses', async () => {
		const p = await person(browser, 'N', { init: observeNotifications });
		try {
			await loginIn(p, ben.id, ben.password);
			const box = p.page.getByLabel('Notify me of new messages');
			assert.equal(await p.page.evaluate(() => window.__asked), 0);
			await box.check();
			await p.page.waitForFunction(() => window.__asked === 1);
			const perm = await p.page.evaluate(() => Notification.permission);
			// Headless chromium answers without a prompt.
			assert.notEqual(perm, 'granted');
			await p.page.waitForFunction(() => !document.getElementById('notify').checked);
			if (perm === 'denied')
				await p.page.getByText('This browser blocks notifications').waitFor();
			assert.deepEqual(p.errors, []);
		} finally {
			await p.context.close();
		}
	});

	test('at 360 px: your id stays in view, a long name wraps in its ' +
	    'card, the menu and the dialog fit', async () => {
		const pa = A.page;
		await pa.setViewportSize(PHONE);
		await button(pa, 'Back to friends').click();
		const id = await pa.locator('#me-id').boundingBox();
		assert.ok(id && id.width > 0 && id.x >= 0 && id.x + id.width <= PHONE.width,
		    `own id at ${JSON.stringify(id)}`);
		assert.equal(await pa.locator('#me-id').textContent(), ann.id);

		const long = await newUser({ transport: 'tcp', username: 'W'.repeat(32) });
		const c = await loggedIn('tcp', long);
		c.send({ command: 'add_friend', src: long.id, dst: ann.id, status: '0' });
		const card = requestCard(pa, long.id);
		await card.waitFor();
		const fits = await card.evaluate((li) => {
			const name = li.querySelector('strong').getBoundingClientRect();
			const box = li.getBoundingClientRect();
			return { scroll: li.scrollWidth <= li.clientWidth,
			    name: name.right <= box.right + 0.5 };
		});
		assert.deepEqual(fits, { scroll: true, name: true });
		// Below the fold on a small screen: the link above the list
		// leads there.
		await pa.getByRole('link', { name: '1 friend request', exact: true }).click();
		assert.equal(await focused(pa), 'requests');
		assert.ok(await card.isVisible());
		await shot(pa, 'long-name-phone');

		await more(pa, eve.username).click();
		await menuItem(pa, 'Block…').click();
		const ask = dialog(pa, `Block ${eve.username}?`);
		await ask.waitFor();
		const box = await ask.boundingBox();
		assert.ok(box.x >= 0 && box.x + box.width <= PHONE.width, JSON.stringify(box));
		await shot(pa, 'confirm-phone');
		await pa.keyboard.press('Escape');
		await ask.waitFor({ state: 'hidden' });
		assert.equal(await pa.evaluate(() => document.documentElement.scrollWidth),
		    PHONE.width);
		assert.deepEqual(await blockedOf(annTcp, ann), []);
		await pa.setViewportSize(DESKTOP);
	});

	test('no script errors in the pages', () => {
		assert.deepEqual([...A.errors, ...B.errors], []);
	});
});

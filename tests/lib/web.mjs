// What the browser tests of the web client share: Debian's chromium,
// driven headless by playwright-core, a person per browser context, and
// the page's controls found as a person finds them (by role and label).
//
//   const browser = await launch();
//   const A = await person(browser, 'A');     // {page, context, errors}
//   const id = await registerIn(A, 'Alice', pw);
//   await loginIn(A, id, pw);
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { BASE_URL, STACK_DIR } from './client.mjs';

export const CHROMIUM = process.env.CHAT_TEST_CHROMIUM || '/usr/bin/chromium';
export const SHOTS = process.env.CHAT_TEST_SCREENSHOTS ||
    path.join(STACK_DIR || os.tmpdir(), 'screenshots');
export const WAIT = 15000;	// ms for anything the page must show

export const DESKTOP = { width: 1200, height: 760 };
export const PHONE = { width: 360, height: 740 };

let chromium = null;
try {
	({ chromium } = await import('playwright-core'));
} catch (e) {
	// reported as the reason of the skip below
}

// A describe() option: false, or why the browser tests cannot run here.
export const skip = !chromium ? 'playwright-core is not installed (make deps)' :
    !fs.existsSync(CHROMIUM) ? `no ${CHROMIUM} (make deps)` : false;

export function launch() {
	return chromium.launch({
		executablePath: CHROMIUM,
		args: ['--headless', '--no-sandbox', '--disable-gpu',
		    '--disable-quic', '--no-first-run',
		    '--disable-background-networking',
		    '--disable-component-update', '--disable-sync',
		    '--disable-dev-shm-usage'],
	});
}

export function shot(page, name) {
	fs.mkdirSync(SHOTS, { recursive: true });
	return page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
}

// A person: a browser context of its own (own localStorage), one page.
// errors collects what went wrong in the page: script errors, every
// console error (a resource that failed to load among them), any answer
// of 400 or more and any request that failed.  While p.offline is set (a
// test that stops the push daemon), the WebSocket's own errors and the
// failed handshakes of its reconnects go to p.expected instead: they are
// what that test causes, and nothing else is excused.  options go to
// browser.newContext(); init, if given, runs in the page before its own
// scripts (page.addInitScript).
export async function person(browser, label, { init, ...options } = {}) {
	const context = await browser.newContext({ viewport: DESKTOP, ...options });
	const page = await context.newPage();
	page.setDefaultTimeout(WAIT);
	if (init)
		await page.addInitScript(init);
	const p = { label, context, page, errors: [], expected: [],
	    offline: false };
	const ws = (url) => new URL(url).pathname === '/ws';
	const seen = (what, excused) => {
		if (p.offline && excused)
			p.expected.push(`${label}: ${what}`);
		else
			p.errors.push(`${label}: ${what}`);
	};
	page.on('pageerror', (e) => seen(e.message, false));
	page.on('console', (m) => {
		if (m.type() === 'error')
			seen(`console: ${m.text()}`, /WebSocket/.test(m.text()));
	});
	page.on('response', (r) => {
		if (r.status() >= 400)
			seen(`${r.status()} for ${r.url()}`, ws(r.url()));
	});
	page.on('requestfailed', (r) => seen(`${r.url()} failed: ` +
	    `${r.failure()?.errorText}`, ws(r.url())));
	await page.goto(`${BASE_URL}/`);
	return p;
}

export const button = (page, name) => page.getByRole('button', { name, exact: true });
export const field = (page, name) => page.getByLabel(name, { exact: true });
export const friendItem = (page, id) => page.locator(`#friend-list button[data-id="${id}"]`);
export const messages = (page) => page.locator('#messages .msg');

// Registers through the form; returns the id the page shows.
export async function registerIn(p, username, password) {
	const { page } = p;
	await page.getByRole('tab', { name: 'Register' }).click();
	await field(page, 'Username').fill(username);
	await field(page, 'Password').fill(password);
	await button(page, 'Register').click();
	const box = page.locator('#new-id');
	await box.waitFor();
	await box.getByText('You need this id to log in').waitFor();
	const id = (await page.locator('#new-id-value').textContent()).trim();
	assert.match(id, /^[1-9][0-9]*$/);
	return id;
}

export async function loginIn(p, id, password) {
	const { page } = p;
	await page.getByRole('tab', { name: 'Log in' }).click();
	await field(page, 'Account id').fill(id);
	await field(page, 'Password').fill(password);
	await button(page, 'Log in').click();
	await button(page, 'Log out').waitFor();
	await page.locator('#conn[data-state=online]').waitFor();
}

export async function openChat(p, id) {
	await friendItem(p.page, id).click();
	await field(p.page, 'Message').waitFor();
}

// Types text into the open conversation and sends it with Enter; waits
// until the server has taken it (no "sending…" left).
export async function say(p, text) {
	const box = field(p.page, 'Message');
	const lines = text.split('\n');
	await box.fill('');
	for (let i = 0; i < lines.length; i++) {
		if (i > 0)
			await box.press('Shift+Enter');
		await box.pressSequentially(lines[i], { delay: 0 });
	}
	await box.press('Enter');
	await p.page.locator('#messages .msg.mine .bubble', { hasText: lines[0] })
	    .last().waitFor();
	await p.page.waitForFunction(() =>
	    !document.querySelector('#messages .state'));
	const failed = await p.page.locator('#messages .msg.failed').count();
	assert.equal(failed, 0, 'a message failed to send');
}

// The bubble of a received message with exactly this text.
export function theirs(p, text) {
	return p.page.locator('#messages .msg.theirs .bubble')
	    .filter({ hasText: text });
}

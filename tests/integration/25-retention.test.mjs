// message_retention_days (INSTALL.md, "Administration"): the workers'
// master deletes delivered messages older than that, at start and hourly,
// and never one still waiting for its recipient.  On a stack of its own,
// restarted so that the purge at start runs over rows the test aged in SQL.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';

import { closeAll, connect } from '../lib/client.mjs';
import { assertSuccess } from '../lib/expect.mjs';
import { befriend } from '../lib/friends.mjs';
import { buildDir, canStartOwnStack, startOwnStack } from '../lib/own-stack.mjs';
import { sql, until } from '../lib/stack.mjs';
import { drain, loggedIn, login, newUser } from '../lib/users.mjs';

const skip = canStartOwnStack() ? false : 'fcgi_app and push_daemon not built';

function fcgiLog(dir) {
	return fs.readFileSync(path.join(dir, 'log', '2-fcgi_app.log'), 'utf8');
}

describe('message_retention_days', { skip }, () => {
	let s;
	before(async () => {
		s = await startOwnStack({ sets: ['message_retention_days=2'] });
	});
	after(async () => { await s?.remove(); });
	afterEach(closeAll);

	test('the purge at start deletes what was delivered before the ' +
	    'kept days, keeps what was delivered since and what still waits',
	async () => {
		const q = (query) => sql(query, s.dir);
		assert.match(fcgiLog(s.dir),
		    /retention: delivered messages are kept 2 days/);
		const a = await newUser();
		const b = await newUser();
		await befriend(a, b);
		const ca = await loggedIn('ws', a);
		const texts = ['delivered 3 days ago', 'delivered yesterday',
		    'waiting for 10 days', 'delivered just now'];
		for (const message of texts)
			assertSuccess(await ca.request({ command: 'send_message',
			    src: a.id, dst: b.id, message }), 'send_message_return');
		ca.close();
		const ids = (await q('SELECT id FROM messages WHERE ' +
		    `sender_id = ${a.id} ORDER BY id`)).map((r) => r[0]);
		assert.equal(ids.length, 4);
		const [old, recent, waiting, now] = ids;
		await q('UPDATE messages SET created_at = UTC_TIMESTAMP() ' +
		    '- INTERVAL 3 DAY, delivered_at = UTC_TIMESTAMP() - INTERVAL ' +
		    `3 DAY WHERE id = ${old}`);
		await q('UPDATE messages SET created_at = UTC_TIMESTAMP() ' +
		    '- INTERVAL 1 DAY, delivered_at = UTC_TIMESTAMP() - INTERVAL ' +
		    `1 DAY WHERE id = ${recent}`);
		await q('UPDATE messages SET created_at = UTC_TIMESTAMP() ' +
		    `- INTERVAL 10 DAY WHERE id = ${waiting}`);
		await q('UPDATE messages SET delivered_at = ' +
		    `UTC_TIMESTAMP() WHERE id = ${now}`);

		const purgesBefore = fcgiLog(s.dir).match(/retention: \d+/g).length;
		await s.stop();
		await s.start();
		await until(() => (fcgiLog(s.dir).match(/retention: \d+/g) ?? [])
		    .length > purgesBefore, 'the purge at start', 20000);
		assert.match(fcgiLog(s.dir), /retention: [1-9]\d* messages? delivered before \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC deleted \(2 days kept\)/);
		const left = (await q('SELECT id FROM messages WHERE id ' +
		    `IN (${ids.join(',')}) ORDER BY id`)).map((r) => r[0]);
		assert.deepEqual(left, [recent, waiting, now]);

		// The old one still waiting reaches b, once.
		const cb = await connect('tcp');
		await login(cb, b);
		const got = (await drain(cb, b))
		    .filter((p) => p.command === 'send_message');
		assert.deepEqual(got.map((p) => p.message), [texts[2]]);
	});
});

describe('message_retention_days: bad values', { skip }, () => {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chat-retention.'));
	after(() => fs.rmSync(dir, { recursive: true, force: true }));

	// fcgi_app -n checks a file and exits: the same reader as at start.
	function check(value) {
		const conf = path.join(dir, 'chat.conf');
		fs.writeFileSync(conf, 'db_password = "not the placeholder"\n' +
		    `message_retention_days = ${value}\n`);
		return spawnSync(path.join(buildDir(), 'fcgi_app'), ['-n', '-f', conf], { encoding: 'utf8' });
	}

	test('a negative, a too large or a non-numeric value is refused with ' +
	    'its line; 0 (keep everything) and 36500 are taken', () => {
		for (const bad of ['-1', '36501', 'forever', '7d', ''])
			assert.match(check(bad).stderr, /chat\.conf:2: /, bad);
		for (const good of ['0', '36500', '30'])
			assert.equal(check(good).status, 0, good);
	});
});

// The web client: register, log in, friends, conversations.  State lives
// in memory for the session (the password only there, never stored);
// the last account id is kept in localStorage, and so are the logged-in
// account's conversations, until it logs out: a shared computer must not
// show them to the next person.
import { linkify } from './linkify.js';
import {
	Connection, PACKET_MAX, deliveredSize, detailText, isAccountId,
	passwordProblem, register, usernameProblem,
} from './protocol.js';

// The log-in and registration panels: only the shown one is in the
// document, so that each label (both have a "Password") is unique.
const panels = {};

const $ = (id) => document.getElementById(id) ??
    Object.values(panels).map((p) => p.querySelector(`#${id}`)).find(Boolean) ??
    null;

const HISTORY_CAP = 500;	// messages kept per conversation in storage
const PAGE = 50;		// messages asked for per history request
const CATCH_UP = 10;		// pages at most to close a gap after a reconnect

const store = {
	get(k) {
		try {
			return JSON.parse(localStorage.getItem(k));
		} catch (e) {
			return null;
		}
	},
	set(k, v) {
		try {
			localStorage.setItem(k, JSON.stringify(v));
		} catch (e) {
			// full or disabled: the session still works
		}
	},
	remove(k) {
		try {
			localStorage.removeItem(k);
			sessionStorage.removeItem(k);
		} catch (e) {
			// disabled: nothing was kept either
		}
	},
};

const S = {
	conn: null,		// the Connection, while one is open
	connecting: false,	// a connect + login is under way
	creds: null,		// {id, password} while logged in (memory only)
	me: null,		// {id, username}
	friends: new Map(),	// id -> {id, username, status, online}
	requests: new Map(),	// src -> {src, username, special, busy, error}
	outgoing: new Map(),	// dst -> {special, busy}: our requests still unanswered
	results: new Map(),	// other id -> {what, ...}: news of requests and friends
	blocked: new Map(),	// id -> {id, username}, from list_blocked
	menu: null,		// {id, trigger, el} of the open friend menu
	notify: false,		// the person turned notifications on
	notes: new Map(),	// friend id -> the Notification shown for it
	convs: new Map(),	// id -> [message], in msg_id order
	unread: new Map(),	// id -> count
	// id -> {low, high, oldest, busy, stale}: the run of msg_ids the
	// server's history has given without a gap, this session.  Stored
	// messages outside it may have gaps around them, so paging goes by
	// low, never by what storage held.
	hist: new Map(),
	receipts: new Map(),	// msg_id -> 'delivered' | 'read', for ids not known yet
	syncTimers: new Map(),	// id -> timer: learning the ids of messages sent here
	presence: new Map(),	// id -> online, told while a friend list was on its way
	active: null,		// id of the open conversation
	retry: 0,
	retryTimer: null,
	retryAt: 0,
	tick: null,
	listBusy: false,
	listAgain: false,
	listGen: 0,		// list_friend requests sent
	dropped: new Map(),	// friend id -> listGen when the friendship ended
	ackQueue: [],
	ackTimer: null,
	saveTimer: null,
	seq: 0,
};

const wide = window.matchMedia('(min-width: 721px)');

function wsUrl() {
	return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
}

// --- small DOM helpers ----------------------------------------------------

function h(tag, attrs = {}, ...kids) {
	const el = document.createElement(tag);
	for (const [k, v] of Object.entries(attrs)) {
		if (v === null || v === undefined || v === false)
			continue;
		if (k === 'class')
			el.className = v;
		else if (k === 'text')
			el.textContent = v;
		else if (k.startsWith('on'))
			el.addEventListener(k.slice(2), v);
		else
			el.setAttribute(k, v === true ? '' : v);
	}
	for (const kid of kids.flat())
		if (kid !== null && kid !== undefined && kid !== false)
			el.append(kid);
	return el;
}

function showError(el, text) {
	el.textContent = text ?? '';
	el.hidden = !text;
}

// A round badge with the first letter of a name, its colour from the id.
function avatar(label, id) {
	const first = [...(label || '?').trim()][0] ?? '?';
	// The golden angle spreads neighbouring ids over the colour wheel.
	const hue = Math.round((Number(String(id).slice(-6)) * 137.508) % 360);
	return h('span', { class: 'avatar', 'aria-hidden': 'true',
	    style: `--hue: ${hue}` }, first.toUpperCase());
}

// Makes list's children the elements of specs ({key, sig, build,
// update}) in order.  An element whose key is still there is kept; when
// its sig changed, update(el) brings it up to date in place if the spec
// has one, else build() makes a new one.  Kept elements are what lets a
// click land: one whose mousedown hit an element that a push replaced
// before the mouseup reaches neither, and it keeps a live region from
// announcing what it already said.  Keyboard focus in a rebuilt element
// goes to the one with the same data-focus; returns true when the focus
// was in the list and has nowhere to go there.
function reconcile(list, specs) {
	const active = document.activeElement;
	const had = list.contains(active);
	const key = had ? active.dataset.focus : undefined;
	const old = new Map();
	for (const el of list.children)
		old.set(el.dataset.key, el);
	let i = 0;
	for (const spec of specs) {
		let el = old.get(spec.key);
		if (el && el.dataset.sig !== spec.sig) {
			if (spec.update)
				spec.update(el);
			else
				el = null;
		}
		if (!el) {
			el = spec.build();
			el.dataset.key = spec.key;
		}
		el.dataset.sig = spec.sig;
		const at = list.children[i] ?? null;
		if (at !== el)
			list.insertBefore(el, at);
		i++;
	}
	while (list.children.length > i)
		list.lastElementChild.remove();
	if (!had || list.contains(document.activeElement))
		return false;
	const again = key ? list.querySelector(`[data-focus="${CSS.escape(key)}"]`) : null;
	if (again && !again.disabled) {
		again.focus();
		return false;
	}
	return true;
}

// The name an account is known by here, or ''.
function knownName(id) {
	return S.friends.get(id)?.username || S.requests.get(id)?.username ||
	    S.blocked.get(id)?.username || S.results.get(id)?.username || '';
}

function name(id) {
	const n = knownName(id);
	return n ? `${n} (${id})` : id;
}

// --- time -----------------------------------------------------------------

function dayKey(d) {
	return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
}

function dayLabel(d) {
	const today = new Date();
	const yesterday = new Date(today.getTime() - 86400000);
	if (dayKey(d) === dayKey(today))
		return 'Today';
	if (dayKey(d) === dayKey(yesterday))
		return 'Yesterday';
	return d.toLocaleDateString([], { weekday: 'short', year: 'numeric',
	    month: 'short', day: 'numeric' });
}

function clock(d) {
	return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

function parseTime(t) {
	const d = new Date(typeof t === 'string' ? t : NaN);
	return Number.isNaN(d.getTime()) ? new Date() : d;
}

// --- history (per account, in localStorage until logout) -----------------

function historyKey() {
	return `chat.v1.history.${S.me.id}`;
}

function loadHistory() {
	S.convs.clear();
	S.hist.clear();
	S.results.clear();
	S.outgoing.clear();
	const saved = store.get(historyKey());
	if (!saved || typeof saved !== 'object')
		return;
	for (const [id, msgs] of Object.entries(saved.convs ?? {})) {
		if (!Array.isArray(msgs))
			continue;
		const list = msgs.filter((m) => m && typeof m.text === 'string')
		    .map((m) => ({ ...m, key: `k${++S.seq}`,
		    state: m.state === 'sending' ? 'failed' : m.state,
		    error: m.state === 'sending' ? 'Not sent: the page was closed first.' : m.error }));
		S.convs.set(id, sortConv(list));
	}
	for (const [id, r] of Object.entries(saved.results ?? {})) {
		if (!r || typeof r.what !== 'string')
			continue;
		if (r.what === 'wait')	// kept so by an older page
			S.outgoing.set(id, { special: r.special === true, busy: false });
		else
			S.results.set(id, r);
	}
	for (const [id, o] of Object.entries(saved.outgoing ?? {}))
		if (isAccountId(id) && o && typeof o === 'object')
			S.outgoing.set(id, { special: o.special === true, busy: false });
	for (const [id, n] of Object.entries(saved.unread ?? {}))
		if (Number.isInteger(n) && n > 0)
			S.unread.set(id, n);
}

function saveHistory() {
	clearTimeout(S.saveTimer);
	S.saveTimer = null;
	if (!S.me)
		return;
	const convs = {};
	for (const [id, msgs] of S.convs)
		convs[id] = msgs.slice(-HISTORY_CAP).map(({ key, ...m }) => m);
	const outgoing = {};
	for (const [id, o] of S.outgoing)
		outgoing[id] = { special: o.special };
	store.set(historyKey(), {
		convs,
		results: Object.fromEntries(S.results),
		outgoing,
		unread: Object.fromEntries(S.unread),
	});
}

// At logout: nothing of the account's is left in this browser but its id
// in the log-in form.
function eraseHistory() {
	clearTimeout(S.saveTimer);
	S.saveTimer = null;
	if (S.me)
		store.remove(historyKey());
}

function saveSoon() {
	if (!S.saveTimer)
		S.saveTimer = setTimeout(saveHistory, 300);
}

// --- connection -----------------------------------------------------------

function req(packet) {
	if (!S.conn || !S.conn.isOpen || S.connecting)
		return Promise.reject(new Error('connection lost'));
	return S.conn.request(packet);
}

// Opens a socket and logs in on it (ack mode); resolves with the
// login_return.  What waited for the account comes after it, as pushes.
async function connectAndLogin(id, password) {
	const conn = new Connection(wsUrl(), {
		onpush: (p) => { if (conn === S.conn) onPush(p); },
		onclose: () => onConnClosed(conn),
	});
	S.conn = conn;
	await conn.open();
	return conn.request({ command: 'login', id, password, ack: true });
}

function dropConn() {
	const c = S.conn;
	S.conn = null;
	if (c)
		c.close();
}

function onConnClosed(conn) {
	if (conn !== S.conn || S.connecting)
		return;
	S.conn = null;
	if (!S.creds)
		return;
	scheduleReconnect();
}

function scheduleReconnect(note) {
	if (S.retryTimer || !S.creds)
		return;
	const base = Math.min(10000, 500 * 2 ** S.retry);
	const delay = Math.round(base * (0.8 + Math.random() * 0.4));
	S.retry++;
	S.retryAt = Date.now() + delay;
	S.retryTimer = setTimeout(reconnect, delay);
	S.connNote = note ?? null;
	showConn('lost');
	clearInterval(S.tick);
	S.tick = setInterval(() => showConn('lost'), 1000);
	renderChat(false);
}

async function reconnect() {
	clearTimeout(S.retryTimer);
	S.retryTimer = null;
	clearInterval(S.tick);
	if (!S.creds || S.conn || S.connecting)
		return;
	S.connecting = true;
	showConn('connecting');
	let r;
	try {
		r = await connectAndLogin(S.creds.id, S.creds.password);
	} catch (e) {
		r = { status: 'fail', detail: e.message };
	}
	S.connecting = false;
	if (!S.creds) {
		dropConn();
		return;
	}
	if (r.status === 'success' && S.conn && !S.conn.closed) {
		S.retry = 0;
		S.me.username = r.username ?? S.me.username;
		$('me-name').textContent = S.me.username;
		showConn('online');
		// What was said while the socket was down (from other
		// devices too) is asked for again when a conversation opens.
		for (const st of S.hist.values())
			st.stale = true;
		renderChat(false);
		if (S.active)
			loadNewest(S.active);
		refreshFriends();
		refreshBlocked();
		return;
	}
	dropConn();
	if (r.detail === 'wrong id or password' || r.detail === 'account disabled') {
		endSession(`You were logged out: ${detailText(r.detail)}`);
		return;
	}
	const note = r.detail && r.detail !== 'unreachable' &&
	    r.detail !== 'connection lost' ? detailText(r.detail) : null;
	scheduleReconnect(note);
}

function showConn(state) {
	const el = $('conn');
	el.hidden = false;
	el.dataset.state = state;
	if (state === 'online') {
		el.replaceChildren(h('span', { class: 'dot online', 'aria-hidden': 'true' }),
		    h('span', { class: 'conn-label', text: ' Connected' }));
		return;
	}
	if (state === 'connecting') {
		el.replaceChildren(h('span', { class: 'spinner', 'aria-hidden': 'true' }),
		    h('span', { class: 'conn-label', text: ' Connecting…' }));
		return;
	}
	const secs = Math.max(0, Math.ceil((S.retryAt - Date.now()) / 1000));
	const text = ` Connection lost. ${S.connNote ? S.connNote + ' ' : ''}` +
	    `Reconnecting in ${secs} s…`;
	const now = el.querySelector('.conn-text');
	if (now && el.querySelector('button')) {
		now.textContent = text;	// the countdown; focus stays put
		return;
	}
	el.replaceChildren(
	    h('span', { class: 'dot offline', 'aria-hidden': 'true' }),
	    h('span', { class: 'conn-text', text }),
	    h('button', { type: 'button', class: 'btn btn-quiet btn-small',
	    onclick: () => reconnect() }, 'Retry now'));
}

// --- pushes ---------------------------------------------------------------

function onPush(p) {
	switch (p.command) {
	case 'send_message':
		onMessage(p);
		break;
	case 'add_friend':
		onRequest(p);
		break;
	case 'add_friend_confirm_return':
		onResult(p);
		break;
	case 'remove_friend':
		onRemoved(p);
		break;
	case 'cancel_friend':
		onCancelled(p);
		break;
	case 'sent':
		onCarbon(p);
		break;
	case 'receipt':
		onReceipt(p);
		break;
	case 'presence':
		onPresence(p);
		break;
	default:
		break;	// unknown commands are ignored
	}
}

function ack(msgId) {
	S.ackQueue.push(msgId);
	if (!S.ackTimer)
		S.ackTimer = setTimeout(flushAcks, 30);
}

function flushAcks() {
	S.ackTimer = null;
	saveHistory();	// what is acked is never sent again: keep it first
	const ids = S.ackQueue.splice(0);
	while (ids.length > 0) {
		const chunk = ids.splice(0, 60);
		try {
			S.conn?.send({ command: 'ack', msg_ids: chunk });
		} catch (e) {
			return;	// not acked: it comes again at the next login
		}
	}
}

function chatVisible(id) {
	return S.active === id && document.visibilityState === 'visible' &&
	    (wide.matches || $('app').dataset.pane === 'chat');
}

function onMessage(p) {
	if (!S.me || typeof p.message !== 'string')
		return;
	const msgId = isAccountId(String(p.msg_id ?? '')) ? String(p.msg_id) : '';
	const src = String(p.src);
	const other = src === S.me.id ? String(p.dst) : src;
	if (msgId)
		ack(msgId);
	const m = placeMessage(other, { mine: src === S.me.id, text: p.message,
	    time: parseTime(p.time).toISOString(), msgId, state: 'sent' });
	if (!m)
		return;	// a repeat
	if (!m.mine && !chatVisible(other))
		S.unread.set(other, (S.unread.get(other) ?? 0) + 1);
	if (!m.mine)
		notifyMessage(other, p.message);
	afterNews(other);
}

// A message this account sent from another connection: one of our own.
function onCarbon(p) {
	if (!S.me || typeof p.message !== 'string' || String(p.src) !== S.me.id)
		return;
	const msgId = String(p.msg_id ?? '');
	if (!isAccountId(msgId))
		return;
	const other = String(p.dst);
	if (placeMessage(other, { mine: true, text: p.message,
	    time: parseTime(p.time).toISOString(), msgId, state: 'sent' }))
		afterNews(other);
}

function afterNews(other) {
	if (!S.friends.has(other))
		refreshFriends();
	renderFriends();
	if (other === S.active)
		renderChat(false);
	saveSoon();
}

const TICKS = { delivered: 1, read: 2 };

// Ticks only go forwards, whatever order the news comes in.
function markTick(m, status) {
	if (!m.mine || !TICKS[status])
		return false;
	const was = m.read ? 2 : m.delivered ? 1 : 0;
	if (TICKS[status] <= was)
		return false;
	m.delivered = true;
	m.read = m.read || status === 'read';
	return true;
}

function onReceipt(p) {
	if (!S.me || !Array.isArray(p.msg_ids) || !TICKS[p.status])
		return;
	const other = String(p.dst ?? '');
	const list = S.convs.get(other) ?? [];
	let changed = false;
	for (const raw of p.msg_ids) {
		const id = String(raw);
		const m = list.find((x) => x.msgId === id);
		if (m) {
			changed = markTick(m, p.status) || changed;
		} else if (TICKS[p.status] > (TICKS[S.receipts.get(id)] ?? 0)) {
			// Most often a message sent from this page whose id
			// the next history page tells.
			S.receipts.set(id, p.status);
		}
	}
	if (changed) {
		saveSoon();
		if (other === S.active)
			renderChat(false);
	}
}

function onPresence(p) {
	const id = String(p.id ?? '');
	if (!S.me || typeof p.online !== 'boolean' || !isAccountId(id))
		return;
	// A list on its way may have been made before this: it loses.
	if (S.listBusy)
		S.presence.set(id, p.online);
	const f = S.friends.get(id);
	if (!f || f.online === p.online)
		return;
	S.friends.set(id, { ...f, online: p.online });
	renderFriends();
	if (S.active === id)
		renderChatHead();
}

function idOf(m) {
	return m.msgId ? BigInt(m.msgId) : null;
}

// msg_id order; a message without an id yet (being sent, or sent from
// here before the server told its id) stays after the one it followed.
function sortConv(list) {
	let last = -1n;
	const keyed = list.map((m, i) => {
		const id = idOf(m);
		if (id !== null)
			last = id;
		return { m, k: id ?? last, late: id === null ? 1 : 0, i };
	});
	keyed.sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 :
	    a.late - b.late || a.i - b.i));
	return keyed.map((x) => x.m);
}

// Adds m to the conversation in its place; returns it, or null when the
// conversation holds its msg_id already.
function placeMessage(other, m) {
	if (!S.convs.has(other))
		S.convs.set(other, []);
	const list = S.convs.get(other);
	if (m.msgId && list.some((x) => x.msgId === m.msgId))
		return null;
	m.key = `k${++S.seq}`;
	const r = m.msgId ? S.receipts.get(m.msgId) : undefined;
	if (r) {
		S.receipts.delete(m.msgId);
		markTick(m, r);
	}
	const id = idOf(m);
	const at = id === null ? -1 : list.findIndex((x) => x.msgId && idOf(x) > id);
	if (at < 0)
		list.push(m);
	else
		list.splice(at, 0, m);
	return m;
}

// A message sent from this page, before the server has told its id.
function addMessage(other, m) {
	if (!S.convs.has(other))
		S.convs.set(other, []);
	m.key = `k${++S.seq}`;
	S.convs.get(other).push(m);
	return m;
}

// A message sent from here gets the msg_id and time the server answered
// with, and any receipt that came first; it moves to its place by id.
function nameSent(other, m, msgId, time) {
	const list = S.convs.get(other) ?? [];
	// Already here from elsewhere (a history page): one copy stays.
	if (list.some((x) => x !== m && x.msgId === msgId)) {
		S.convs.set(other, list.filter((x) => x !== m));
		return;
	}
	m.msgId = msgId;
	if (typeof time === 'string')
		m.time = parseTime(time).toISOString();
	const r = S.receipts.get(msgId);
	if (r) {
		S.receipts.delete(msgId);
		markTick(m, r);
	}
	S.convs.set(other, sortConv(list));
}

// Merges a history page into the conversation; returns how many
// messages were new here.  An own message the page sent itself before it
// knew its id (an answer without msg_id, from an older server) is
// recognised by its text, the oldest waiting one first.
function mergeHistory(other, msgs) {
	if (!S.convs.has(other))
		S.convs.set(other, []);
	const list = S.convs.get(other);
	const have = new Map();
	for (const m of list)
		if (m.msgId)
			have.set(m.msgId, m);
	let added = 0;
	let placed = false;
	for (const got of [...msgs].reverse()) {
		if (!got || typeof got.message !== 'string' || !isAccountId(String(got.msg_id ?? '')))
			continue;
		const msgId = String(got.msg_id);
		const mine = String(got.src) === S.me.id;
		let m = have.get(msgId);
		if (!m && mine)
			m = list.find((x) => x.mine && !x.msgId && x.state === 'sent' &&
			    x.text === got.message);
		if (m) {
			if (!m.msgId) {
				m.msgId = msgId;
				m.time = parseTime(got.time).toISOString();
				have.set(msgId, m);
				placed = true;
				const r = S.receipts.get(msgId);
				if (r) {
					S.receipts.delete(msgId);
					markTick(m, r);
				}
			}
		} else {
			m = placeMessage(other, { mine, text: got.message,
			    time: parseTime(got.time).toISOString(), msgId, state: 'sent' });
			have.set(msgId, m);
			added++;
		}
		if (mine) {
			if (got.read === true)
				markTick(m, 'read');
			else if (got.delivered === true)
				markTick(m, 'delivered');
		}
	}
	if (placed)
		S.convs.set(other, sortConv(list));
	return added;
}

function onRequest(p) {
	const src = String(p.src);
	if (!isAccountId(src))
		return;
	const q = S.requests.get(src);
	S.requests.set(src, { src, username: typeof p.username === 'string' ?
	    p.username : (q?.username ?? ''), special: q?.special ?? false,
	    busy: q?.busy ?? false, error: null });
	renderRequests();
}

// A friend's answer to our request, or the result of a request answered
// on another of our connections.
function onResult(p) {
	if (!S.me)
		return;
	const src = String(p.src ?? '');
	const dst = String(p.dst ?? '');
	if (p.status === 'success') {
		if (src === S.me.id) {
			S.outgoing.delete(dst);
			setResult(dst, { what: 'accepted' });
		} else if (dst === S.me.id) {
			S.requests.delete(src);
			S.outgoing.delete(src);	// ours crossed theirs
			setResult(src, { what: 'friends' });
		}
	} else if (p.detail === 'rejected' && src === S.me.id) {
		S.outgoing.delete(dst);
		setResult(dst, { what: 'declined' });
	} else {
		return;
	}
	saveSoon();
	renderRequests();
	renderOutgoing();
	renderResults();
	refreshFriends();
}

// The friendship with the other account ended: removed by either side,
// or by a block (which the blocked side sees as a removal only).
function onRemoved(p) {
	if (!S.me)
		return;
	const src = String(p.src ?? '');
	const dst = String(p.dst ?? '');
	const other = src === S.me.id ? dst : dst === S.me.id ? src : null;
	if (!other)
		return;
	if (!S.friends.has(other)) {
		// This page ended it and has shown so already, or the
		// friend is not listed yet: a list on its way may be older.
		S.dropped.set(other, S.listGen);
		if (S.listBusy)
			S.listAgain = true;
		return;
	}
	const username = S.friends.get(other).username;
	dropFriend(other);
	setResult(other, { what: 'removed', username });
	saveSoon();
	renderResults();
}

// The asker withdrew a request to us (PROTOCOL.md, cancel_friend).
function onCancelled(p) {
	if (!S.me)
		return;
	const src = String(p.src ?? '');
	const dst = String(p.dst ?? '');
	if (dst === S.me.id && S.requests.delete(src))
		renderRequests();
	else if (src === S.me.id && S.outgoing.delete(dst))
		renderOutgoing();
}

// --- friends --------------------------------------------------------------

async function refreshFriends() {
	if (!S.me || !S.conn || S.connecting)
		return;
	if (S.listBusy) {
		S.listAgain = true;
		return;
	}
	S.listBusy = true;
	S.presence.clear();
	const gen = ++S.listGen;
	try {
		const r = await req({ command: 'list_friend', id: S.me.id });
		if (r.status === 'success') {
			const m = new Map();
			for (const f of r.friends) {
				if (!f || f.id === undefined)
					continue;
				const id = String(f.id);
				// Ended while this list was on its way: it
				// may still name the friend.
				if ((S.dropped.get(id) ?? -1) >= gen)
					continue;
				m.set(id, { id, username: String(f.username ?? ''),
				    status: String(f.status ?? '0'),
				    online: S.presence.get(id) ?? f.online === true });
				S.outgoing.delete(id);
			}
			for (const [id, g] of S.dropped)
				if (g < gen)
					S.dropped.delete(id);
			S.friends = m;
			renderFriends();
			if (S.focusFriend) {
				S.focusFriend = false;
				if (document.activeElement === $('friend-id') &&
				    $('friend-id').value === '')
					$('friend-list').querySelector('button')?.focus();
			}
			renderOutgoing();
			renderResults();
			if (S.active)
				renderChatHead();
		}
	} catch (e) {
		// the connection went: the next login refreshes
	} finally {
		S.listBusy = false;
		if (S.listAgain) {
			S.listAgain = false;
			refreshFriends();
		}
	}
}

// Forgets a friend and what this browser kept of the conversation, at
// once, whoever ended the friendship.
function dropFriend(id) {
	S.friends.delete(id);
	S.dropped.set(id, S.listGen);
	if (S.listBusy)
		S.listAgain = true;
	S.convs.delete(id);
	S.hist.delete(id);
	S.unread.delete(id);
	if (S.menu?.id === id)
		closeMenu(false);
	if (S.active === id) {
		const inChat = $('chat').contains(document.activeElement);
		S.active = null;
		$('message').value = '';
		$('app').dataset.pane = 'list';
		renderChat(false);
		if (inChat)
			$('friend-id').focus();
	}
	renderFriends();
	saveHistory();	// gone from the storage too, not in a moment
}

// The parts of a friend's row that change; pointer-events: none on them
// (style.css) keeps the button itself the target of every click.
function friendParts(id) {
	const f = S.friends.get(id);
	const unread = S.unread.get(id) ?? 0;
	const last = S.convs.get(id)?.at(-1);
	return [
	    h('span', { class: 'avatar-wrap' },
		avatar(f?.username || id, id),
		h('span', { class: `dot ${f?.online ? 'online' : 'offline'}`, 'aria-hidden': 'true' })),
	    h('span', { class: 'friend-main' },
		h('span', { class: 'friend-line' },
		    h('span', { class: 'friend-name', text: f ? (f.username || '(no name)') : id }),
		    f?.status === '1' ? h('span', { class: 'star', 'aria-hidden': 'true', text: '★' }) : null,
		    h('span', { class: 'sr-only', text: f ? (f.status === '1' ? ', special follow' : '') : ', not a friend' }),
		    h('span', { class: 'friend-id', text: f ? `id ${id}` : 'not a friend' })),
		h('span', { class: 'friend-last', text: last ? (last.mine ? 'You: ' : '') + last.text.split('\n')[0] : (f?.online ? 'online' : 'offline') })),
	    h('span', { class: 'sr-only', text: f?.online ? ', online' : ', offline' }),
	    unread > 0 ? h('span', { class: 'badge', title: `${unread} unread` },
		String(unread), h('span', { class: 'sr-only', text: ' unread' })) : null,
	];
}

function friendRow(id) {
	const label = knownName(id) || `account ${id}`;
	return h('li', { class: 'friend-row' },
	    h('button', {
		type: 'button', class: 'friend', 'data-focus': id, 'data-id': id,
		'aria-current': S.active === id ? 'true' : null,
		onclick: () => openChat(id),
	    }, friendParts(id)),
	    h('button', {
		type: 'button', class: 'btn btn-quiet more', 'data-focus': `m${id}`,
		'data-menu': id, 'aria-haspopup': 'menu', 'aria-expanded': 'false',
		'aria-label': `More for ${label}`, title: 'Remove, block…',
		onclick: (e) => toggleMenu(id, e.currentTarget),
		onkeydown: (e) => {
			if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
				e.preventDefault();
				openMenu(id, e.currentTarget, e.key === 'ArrowUp' ? -1 : 0);
			}
		},
	    }, h('span', { 'aria-hidden': 'true', text: '⋯' })));
}

function renderFriends() {
	const ids = [...S.friends.keys()];
	// People we talked to who are not (or no more) friends.
	for (const id of S.convs.keys())
		if (!S.friends.has(id) && S.convs.get(id).length > 0)
			ids.push(id);
	const specs = ids.map((id) => {
		const f = S.friends.get(id);
		const last = S.convs.get(id)?.at(-1);
		return {
			key: id,
			sig: JSON.stringify([f, S.unread.get(id) ?? 0, S.active === id,
			    last?.key, last?.text]),
			build: () => friendRow(id),
			update: (li) => {
				const b = li.querySelector('.friend');
				b.replaceChildren(...friendParts(id).filter(Boolean));
				if (S.active === id)
					b.setAttribute('aria-current', 'true');
				else
					b.removeAttribute('aria-current');
				li.querySelector('.more').setAttribute('aria-label',
				    `More for ${knownName(id) || `account ${id}`}`);
			},
		};
	});
	if (S.menu && !ids.includes(S.menu.id))
		closeMenu(false);
	const lost = reconcile($('friend-list'), specs);
	$('friends-empty').hidden = ids.length > 0;
	if (lost)
		($('friend-list').querySelector('.friend') ?? $('friend-id')).focus();
	const total = [...S.unread.values()].reduce((a, b) => a + b, 0);
	document.title = total > 0 ? `(${total}) Chat` : 'Chat';
}

// A polite word for screen readers about what an action did (what the
// eye sees as a row going away).
function sayDone(text) {
	const el = $('side-state');
	el.textContent = text;
	clearTimeout(S.sayTimer);
	S.sayTimer = setTimeout(() => { el.textContent = ''; }, 5000);
}

// --- a friend's menu ------------------------------------------------------

// The menu button pattern of the ARIA practices: the menu opens below its
// button, over what follows (nothing moves), with the focus on an item;
// arrows move, Escape closes back to the button, Tab or a click elsewhere
// closes it.
function openMenu(id, trigger, at = 0) {
	closeMenu(false);
	const items = [];
	if (S.friends.has(id))
		items.push(['Remove friend…', () => removeFriend(id, trigger)]);
	items.push(['Block…', () => blockAccount(id, trigger)]);
	const menu = h('div', { class: 'menu', role: 'menu', id: 'friend-menu',
	    'aria-label': `Actions for ${knownName(id) || `account ${id}`}` },
	    items.map(([text, act]) => h('button', { type: 'button',
		role: 'menuitem', tabindex: '-1', class: 'menu-item',
		onclick: () => { closeMenu(false); act(); } }, text)));
	menu.addEventListener('keydown', (e) => menuKey(e, menu));
	menu.addEventListener('focusout', (e) => {
		if (S.menu?.el === menu && !menu.contains(e.relatedTarget) &&
		    e.relatedTarget !== trigger)
			closeMenu(false);
	});
	trigger.after(menu);
	trigger.setAttribute('aria-expanded', 'true');
	trigger.setAttribute('aria-controls', 'friend-menu');
	S.menu = { id, trigger, el: menu };
	const buttons = menu.querySelectorAll('[role=menuitem]');
	buttons[at < 0 ? buttons.length - 1 : 0].focus();
}

function closeMenu(refocus) {
	const m = S.menu;
	if (!m)
		return;
	S.menu = null;
	m.el.remove();
	m.trigger.setAttribute('aria-expanded', 'false');
	m.trigger.removeAttribute('aria-controls');
	if (refocus && m.trigger.isConnected)
		m.trigger.focus();
}

function toggleMenu(id, trigger) {
	if (S.menu?.id === id)
		closeMenu(true);
	else
		openMenu(id, trigger);
}

function menuKey(e, menu) {
	const items = [...menu.querySelectorAll('[role=menuitem]')];
	const i = items.indexOf(document.activeElement);
	let to = null;
	if (e.key === 'ArrowDown')
		to = (i + 1) % items.length;
	else if (e.key === 'ArrowUp')
		to = (i - 1 + items.length) % items.length;
	else if (e.key === 'Home')
		to = 0;
	else if (e.key === 'End')
		to = items.length - 1;
	else if (e.key === 'Escape') {
		e.preventDefault();
		closeMenu(true);
		return;
	} else if (e.key === 'Tab') {
		closeMenu(false);
		return;
	}
	if (to !== null) {
		e.preventDefault();
		items[to].focus();
	}
}

// --- confirmation ---------------------------------------------------------

// Resolves true when the person confirms.  A <dialog> shown modal keeps
// the keyboard inside it, starts on Cancel, and gives the focus back to
// what had it (the menu's button) when it closes.
function confirmAction({ title, text, ok }) {
	const dialog = $('confirm');
	$('confirm-title').textContent = title;
	$('confirm-text').textContent = text;
	$('confirm-ok').textContent = ok;
	dialog.returnValue = '';
	return new Promise((resolve) => {
		dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'),
		    { once: true });
		dialog.showModal();
		$('confirm-cancel').focus();
	});
}

// What is left to focus when the row of id goes: the next friend's row,
// else the one before, else the friend id field.
function focusAfter(id) {
	const rows = [...$('friend-list').children];
	const i = rows.findIndex((li) => li.dataset.key === id);
	return () => {
		const next = rows.slice(i + 1).concat(rows.slice(0, i).reverse())
		    .find((li) => li.isConnected);
		(next?.querySelector('.friend') ?? $('friend-id')).focus();
	};
}

async function removeFriend(id, trigger) {
	const who = name(id);
	trigger.focus();
	if (!await confirmAction({
		title: `Remove ${knownName(id) || id}?`,
		text: `${who} will no longer be your friend: neither of you can message the other. ` +
		    'What this browser kept of your conversation is deleted. Either of you can ask again later.',
		ok: 'Remove',
	}))
		return;
	const refocus = focusAfter(id);
	let r;
	try {
		r = await req({ command: 'remove_friend', src: S.me.id, dst: id });
	} catch (e) {
		r = { status: 'fail', detail: e.message };
	}
	if (r.status === 'success' || r.detail === 'not friends') {
		const had = trigger.isConnected && $('friend-list').contains(document.activeElement);
		dropFriend(id);
		if (had || document.activeElement === document.body)
			refocus();
		sayDone(`${who} is no longer your friend.`);
		return;
	}
	setResult(id, { what: 'info', detail: r.detail });
	renderResults();
}

async function blockAccount(id, trigger) {
	const who = name(id);
	trigger.focus();
	if (!await confirmAction({
		title: `Block ${knownName(id) || id}?`,
		text: `${who} will no longer be your friend, and can no longer send you messages or friend requests. ` +
		    'They see the friendship end, but are not told of the block. ' +
		    'What this browser kept of your conversation is deleted. You can unblock them under “Blocked”.',
		ok: 'Block',
	}))
		return;
	const username = knownName(id);
	const refocus = focusAfter(id);
	let r;
	try {
		r = await req({ command: 'block', src: S.me.id, dst: id });
	} catch (e) {
		r = { status: 'fail', detail: e.message };
	}
	if (r.status !== 'success' && r.detail !== 'already blocked') {
		setResult(id, { what: 'info', detail: r.detail });
		renderResults();
		return;
	}
	const had = trigger.isConnected && $('friend-list').contains(document.activeElement);
	S.blocked.set(id, { id, username });
	// The server ended whatever was between us (PROTOCOL.md, block).
	S.requests.delete(id);
	S.outgoing.delete(id);
	S.results.delete(id);
	dropFriend(id);
	if (had || document.activeElement === document.body)
		refocus();
	renderRequests();
	renderOutgoing();
	renderResults();
	renderBlocked();
	sayDone(`${who} is blocked.`);
	refreshBlocked();
}

// --- blocked accounts -----------------------------------------------------

async function refreshBlocked() {
	if (!S.me || !S.conn || S.connecting)
		return;
	let r;
	try {
		r = await req({ command: 'list_blocked', id: S.me.id });
	} catch (e) {
		return;	// the next login asks again
	}
	if (r.status !== 'success' || !Array.isArray(r.blocked))
		return;
	S.blocked = new Map(r.blocked.filter((b) => b && b.id !== undefined)
	    .map((b) => [String(b.id), { id: String(b.id),
	    username: String(b.username ?? '') }]));
	renderBlocked();
}

function renderBlocked() {
	const specs = [...S.blocked.values()].map((b) => ({
		key: b.id,
		sig: JSON.stringify([b.id, b.username]),
		build: () => h('li', { class: 'result', 'data-id': b.id },
		    h('span', { class: 'wrap', text: b.username ? `${b.username} (${b.id})` : b.id }),
		    h('button', { type: 'button', class: 'btn btn-quiet btn-small',
			'data-focus': `u${b.id}`, 'aria-label': `Unblock ${b.username || b.id}`,
			onclick: () => unblock(b.id) }, 'Unblock')),
	}));
	$('blocked').hidden = specs.length === 0;
	if (reconcile($('blocked-list'), specs))
		($('blocked-list').querySelector('button') ?? $('friend-id')).focus();
}

async function unblock(id) {
	const b = S.blocked.get(id);
	if (!b || b.busy)
		return;
	b.busy = true;
	let r;
	try {
		r = await req({ command: 'unblock', src: S.me.id, dst: id });
	} catch (e) {
		r = { status: 'fail', detail: e.message };
	}
	b.busy = false;
	if (r.status === 'success' || r.detail === 'not blocked') {
		const who = name(id);
		S.blocked.delete(id);
		renderBlocked();
		sayDone(`${who} is unblocked. Nothing comes back by itself: either of you can ask again.`);
		return;
	}
	setResult(id, { what: 'info', detail: r.detail });
	renderResults();
}

// --- friend requests ------------------------------------------------------

function requestCard(q) {
	const who = q.username ? q.username : `Account ${q.src}`;
	const special = h('input', { type: 'checkbox', class: 'special',
	    'aria-label': `Special follow for ${who}`,
	    onchange: (e) => { q.special = e.currentTarget.checked; } });
	special.checked = q.special;
	return h('li', { class: 'request', 'data-src': q.src },
	    h('p', { class: 'wrap' }, h('strong', { text: who }), ` (id ${q.src}) wants to be your friend.`),
	    h('div', { class: 'row request-actions' },
		h('label', { class: 'check' }, special, 'Special follow ',
		    h('span', { class: 'star', 'aria-hidden': 'true', text: '★' })),
		h('button', { type: 'button', class: 'btn btn-primary btn-small accept',
		    'data-focus': `a${q.src}`,
		    onclick: () => answerRequest(q.src, true) }, 'Accept'),
		h('button', { type: 'button', class: 'btn btn-quiet btn-small decline',
		    'data-focus': `d${q.src}`,
		    onclick: () => answerRequest(q.src, false) }, 'Decline')),
	    h('p', { class: 'error', role: 'alert', hidden: true }));
}

// Busy and error change in place: the buttons stay the same elements, so
// that the focus stays on the one pressed.
function updateRequestCard(li, q) {
	const who = q.username ? q.username : `Account ${q.src}`;
	li.querySelector('strong').textContent = who;
	li.querySelector('.special').setAttribute('aria-label', `Special follow for ${who}`);
	// aria-disabled rather than disabled: a disabled button drops the
	// focus of the person who pressed it.
	for (const el of li.querySelectorAll('button'))
		el.setAttribute('aria-disabled', String(q.busy));
	li.querySelector('.special').disabled = q.busy;
	li.querySelector('.special').checked = q.special;
	showError(li.querySelector('.error'), q.error);
}

function renderRequests() {
	const specs = [...S.requests.values()].map((q) => ({
		key: q.src,
		sig: JSON.stringify([q.username, q.busy, q.error, q.special]),
		build: () => {
			const li = requestCard(q);
			updateRequestCard(li, q);
			return li;
		},
		update: (li) => updateRequestCard(li, q),
	}));
	$('requests').hidden = specs.length === 0;
	const n = specs.length;
	$('requests-jump').hidden = n === 0;
	$('requests-jump').textContent = n === 1 ? '1 friend request' : `${n} friend requests`;
	if (reconcile($('request-list'), specs))
		($('request-list').querySelector('button') ?? $('friend-id')).focus();
}

// Our own requests still unanswered: the page knows those it sent (kept
// with the conversations until logout), not those sent elsewhere.
function renderOutgoing() {
	const specs = [...S.outgoing.entries()].map(([id, o]) => ({
		key: id,
		sig: JSON.stringify([name(id), o.special]),
		build: () => h('li', { class: 'result wait', 'data-dst': id },
		    h('span', { class: 'wrap', text: `Request sent to ${name(id)}` +
			`${o.special ? ' (special follow)' : ''}: waiting for an answer.` }),
		    h('button', { type: 'button', class: 'btn btn-quiet btn-small',
			'data-focus': `w${id}`,
			'aria-label': `Withdraw the request to ${name(id)}`,
			onclick: () => withdraw(id) }, 'Withdraw')),
	}));
	$('sent').hidden = specs.length === 0;
	if (reconcile($('sent-list'), specs))
		($('sent-list').querySelector('button') ?? $('friend-id')).focus();
}

async function withdraw(id) {
	const o = S.outgoing.get(id);
	if (!o || o.busy)
		return;
	o.busy = true;
	renderOutgoing();
	let r;
	try {
		r = await req({ command: 'cancel_friend', src: S.me.id, dst: id });
	} catch (e) {
		r = { status: 'fail', detail: e.message };
	}
	o.busy = false;
	if (r.status === 'success') {
		S.outgoing.delete(id);
		sayDone(`Your request to ${name(id)} is withdrawn.`);
	} else if (r.detail === 'no pending request') {
		S.outgoing.delete(id);
		setResult(id, { what: 'info', detail: r.detail });
	} else {
		setResult(id, { what: 'info', detail: r.detail });
	}
	saveSoon();
	renderOutgoing();
	renderResults();
}

// Keeps the newest news only: the list is news, not an archive.
function setResult(id, r) {
	S.results.delete(id);
	S.results.set(id, r);
	for (const old of S.results.keys()) {
		if (S.results.size <= 6)
			break;
		S.results.delete(old);
	}
}

// What became of a friend request or a friendship, in words (names as
// known now).
function resultText(id, r) {
	switch (r.what) {
	case 'accepted':
		return `${name(id)} accepted your friend request.`;
	case 'declined':
		return `${name(id)} declined your friend request.`;
	case 'friends':
		return `You and ${name(id)} are now friends.`;
	case 'you-declined':
		return `You declined the request of ${name(id)}.`;
	case 'removed':
		return `You and ${name(id)} are no longer friends.`;
	default:
		return `${name(id)}: ${detailText(r.detail)}`;
	}
}

const RESULT_KIND = { accepted: 'ok', friends: 'ok', declined: 'no', removed: 'no' };

function renderResults() {
	const specs = [...S.results.entries()].map(([id, r]) => ({
		key: id,
		sig: JSON.stringify([r, resultText(id, r)]),
		build: () => h('li', { class: `result ${RESULT_KIND[r.what] ?? 'info'}` },
		    h('span', { class: 'wrap', text: resultText(id, r) }),
		    h('button', { type: 'button',
			class: 'btn btn-quiet btn-small', 'data-focus': `x${id}`,
			'aria-label': `Dismiss: ${resultText(id, r)}`,
			onclick: () => { S.results.delete(id); saveSoon(); renderResults(); } }, '✕')),
	}));
	$('results').hidden = specs.length === 0;
	if (reconcile($('result-list'), specs))
		$('friend-id').focus();
}

async function answerRequest(src, accept) {
	const q = S.requests.get(src);
	if (!q || q.busy)
		return;
	q.busy = true;
	q.error = null;
	renderRequests();
	let r;
	try {
		r = await req({ command: 'add_friend_confirm', src, dst: S.me.id,
		    status: q.special ? '1' : '0',
		    message: accept ? 'confirm_two_way' : 'reject' });
	} catch (e) {
		r = { status: 'fail', detail: e.message };
	}
	q.busy = false;
	if (r.status === 'success' || r.detail === 'no pending request' ||
	    r.detail === 'already friends') {
		S.requests.delete(src);
		if (r.status === 'success')
			setResult(src, { what: accept ? 'friends' : 'you-declined',
			    username: q.username });
		else
			setResult(src, { what: 'info', detail: r.detail });
		saveSoon();
		refreshFriends();
	} else {
		q.error = detailText(r.detail);
	}
	renderRequests();
	renderResults();
}

async function addFriend(ev) {
	ev.preventDefault();
	const input = $('friend-id');
	const err = $('add-error');
	const id = input.value.trim();
	$('add-state').textContent = '';
	if (!isAccountId(id)) {
		showError(err, 'An account id is a number, like 10001.');
		input.setAttribute('aria-invalid', 'true');
		input.focus();
		return;
	}
	input.removeAttribute('aria-invalid');
	showError(err, null);
	const special = $('special').checked;
	const button = ev.target.querySelector('button[type=submit]');
	button.disabled = true;
	let r;
	try {
		r = await req({ command: 'add_friend', src: S.me.id, dst: id,
		    status: special ? '1' : '0' });
	} catch (e) {
		r = { status: 'fail', detail: e.message };
	}
	button.disabled = false;
	if (r.status === 'success') {
		input.value = '';
		$('special').checked = false;
		if (!S.friends.has(id)) {
			S.outgoing.delete(id);	// asked again: newest last
			S.outgoing.set(id, { special, busy: false });
		}
		$('add-state').textContent = `Friend request sent to ${id}.`;
		clearTimeout(S.addStateTimer);
		S.addStateTimer = setTimeout(() => { $('add-state').textContent = ''; }, 5000);
		saveSoon();
		renderOutgoing();
		refreshFriends();
	} else {
		showError(err, detailText(r.detail));
		input.setAttribute('aria-invalid', 'true');
		input.focus();
	}
}

// --- notifications --------------------------------------------------------

const CAN_NOTIFY = 'Notification' in window;

function renderNotify() {
	$('prefs').hidden = !CAN_NOTIFY;
	if (!CAN_NOTIFY)
		return;
	const perm = Notification.permission;
	$('notify').checked = S.notify && perm === 'granted';
	const hint = perm === 'denied' ? 'This browser blocks notifications from this page: ' +
	    'allow them in its site settings first.' : null;
	showError($('notify-hint'), hint);
}

// Permission is asked here only, from the person's own click.
async function notifyChanged() {
	const box = $('notify');
	if (!box.checked) {
		S.notify = false;
	} else {
		let perm = Notification.permission;
		if (perm === 'default') {
			try {
				perm = await Notification.requestPermission();
			} catch (e) {
				perm = 'denied';
			}
		}
		S.notify = perm === 'granted';
	}
	store.set('chat.v1.notify', S.notify);
	renderNotify();
}

// A message came while the tab is hidden: one notification per friend,
// the newest replacing the one before (same tag).
function notifyMessage(other, text) {
	if (!S.notify || !CAN_NOTIFY || Notification.permission !== 'granted' ||
	    document.visibilityState !== 'hidden')
		return;
	const who = S.friends.get(other)?.username || `Account ${other}`;
	const line = text.split('\n')[0];
	let n;
	try {
		n = new Notification(who, {
			body: line.length > 120 ? `${line.slice(0, 119)}…` : line,
			tag: `chat-${S.me.id}-${other}`,
		});
	} catch (e) {
		return;	// a browser that shows them from a service worker only
	}
	S.notes.get(other)?.close();
	S.notes.set(other, n);
	n.onclick = () => {
		window.focus();
		if (S.me && (S.friends.has(other) || S.convs.has(other)))
			openChat(other);
		n.close();
	};
	n.onclose = () => {
		if (S.notes.get(other) === n)
			S.notes.delete(other);
	};
}

function closeNotes() {
	for (const n of S.notes.values())
		n.close();
	S.notes.clear();
}

// --- history from the server ---------------------------------------------

function minId(msgs) {
	let low = null;
	for (const m of msgs) {
		const id = BigInt(String(m.msg_id));
		if (low === null || id < low)
			low = id;
	}
	return low;
}

function maxId(msgs) {
	let high = null;
	for (const m of msgs) {
		const id = BigInt(String(m.msg_id));
		if (high === null || id > high)
			high = id;
	}
	return high;
}

async function historyPage(id, before) {
	const packet = { command: 'history', id: S.me.id, with: id, limit: PAGE };
	if (before !== null)
		packet.before = String(before);
	const r = await req(packet);
	if (r.status !== 'success')
		throw new Error(r.detail ?? 'server error');
	const msgs = (Array.isArray(r.messages) ? r.messages : []).filter((m) =>
	    m && isAccountId(String(m.msg_id ?? '')));
	return { msgs, oldest: r.oldest === true };
}

// The newest messages, paging back until they meet the run already
// known (after a reconnect or a send, what came meanwhile: carbons of a
// lost connection are not sent again).
async function loadNewest(id) {
	const st = S.hist.get(id) ?? { low: null, high: null, oldest: false,
	    busy: false, stale: false };
	S.hist.set(id, st);
	if (st.busy) {
		st.again = true;
		return;
	}
	st.busy = true;
	const knew = st.high;
	let before = null;
	try {
		for (let n = 0; n < CATCH_UP; n++) {
			const { msgs, oldest } = await historyPage(id, before);
			if (S.hist.get(id) !== st)
				return;	// logged out, or the friend dropped
			mergeHistory(id, msgs);
			const low = minId(msgs);
			const high = maxId(msgs);
			if (high !== null && (st.high === null || high > st.high))
				st.high = high;
			if (before === null && msgs.length === 0)
				st.high = st.high ?? 0n;
			const met = knew !== null && (low === null || low <= knew);
			if (knew === null || !met) {
				if (low !== null)
					st.low = low;
				st.oldest = oldest;
			}
			if (knew === null || met || oldest)
				break;
			before = low;
		}
		st.stale = false;
	} catch (e) {
		// offline or refused: the next open or reconnect asks again
	} finally {
		st.busy = false;
	}
	historyShown(id);
	if (st.again) {
		st.again = false;
		loadNewest(id);
	}
}

async function loadOlder(id) {
	const st = S.hist.get(id);
	if (!st || st.busy || st.oldest || st.low === null)
		return;
	st.busy = true;
	if (S.active === id)
		renderChat(false);
	try {
		const { msgs, oldest } = await historyPage(id, st.low);
		if (S.hist.get(id) !== st)
			return;
		mergeHistory(id, msgs);
		const low = minId(msgs);
		if (low !== null && low < st.low)
			st.low = low;
		st.oldest = oldest;
	} catch (e) {
		// the button stays for another try
	} finally {
		st.busy = false;
	}
	historyShown(id);
}

function historyShown(id) {
	saveSoon();
	renderFriends();
	if (S.active !== id)
		return;
	renderChat(false);
	// A page that does not fill the box gives no scroll to ask for more.
	const box = $('messages');
	const st = S.hist.get(id);
	if (st && !st.oldest && !st.busy && box.scrollHeight <= box.clientHeight)
		loadOlder(id);
}

// The ids of messages sent from this page come from the next history
// page; a burst of sends shares one request.
function syncSoon(id) {
	if (S.syncTimers.has(id))
		return;
	S.syncTimers.set(id, setTimeout(() => {
		S.syncTimers.delete(id);
		if (S.me)
			loadNewest(id);
	}, 250));
}

// Tells the server which received messages the person has had in front
// of them: only when the conversation is open in a visible page.
function sendRead() {
	const id = S.active;
	if (!id || !chatVisible(id) || !S.conn || !S.conn.isOpen || S.connecting)
		return;
	const ids = [];
	for (const m of S.convs.get(id) ?? [])
		if (!m.mine && m.msgId && !m.readSent)
			ids.push(m);
	if (ids.length === 0)
		return;
	try {
		for (let i = 0; i < ids.length; i += 60)
			S.conn.send({ command: 'read', msg_ids:
			    ids.slice(i, i + 60).map((m) => m.msgId) });
	} catch (e) {
		return;	// said again once reconnected
	}
	for (const m of ids)
		m.readSent = true;
	saveSoon();
}

// --- conversation ---------------------------------------------------------

function openChat(id) {
	S.active = id;
	$('app').dataset.pane = 'chat';
	if (S.unread.delete(id))
		saveSoon();
	renderFriends();
	renderChat(true);
	showError($('send-error'), null);
	updateSize();
	$('message').focus();
	const st = S.hist.get(id);
	if (!st || st.stale)
		loadNewest(id);
}

function renderChatHead() {
	const id = S.active;
	const f = S.friends.get(id);
	$('chat-title').textContent = f ? (f.username || '(no name)') : id;
	$('chat-sub').textContent = f ? `id ${id}${f.status === '1' ? ' · ★ special follow' : ''} · ${f.online ? 'online' : 'offline'}` :
	    `id ${id} · not a friend`;
	$('chat-dot').className = `dot ${f?.online ? 'online' : 'offline'}`;
	$('chat-avatar').replaceChildren(avatar(f?.username || id, id));
}

// What a tick says, in words as well as in marks.
function tickOf(m) {
	if (m.read)
		return { cls: 'read', mark: '✓✓', word: 'Read' };
	if (m.delivered)
		return { cls: 'delivered', mark: '✓✓', word: 'Delivered' };
	return { cls: 'sent', mark: '✓', word: 'Sent' };
}

// The first row of the conversation: older messages to ask for, or its
// start.  The button is kept while it loads, so that the keyboard focus
// stays on it.
function topSpec(id, friendName) {
	const st = S.hist.get(id);
	const what = !st ? 'more' : st.oldest ? 'start' : st.busy ? 'busy' : 'more';
	const start = `This is the start of your conversation with ${friendName}.`;
	const label = what === 'busy' ? 'Loading older messages…' : 'Load older messages';
	const fill = (li) => {
		const b = li.querySelector('button');
		if (what === 'start') {
			const focused = b && b === document.activeElement;
			li.className = 'day';
			li.replaceChildren(start);
			if (focused)
				$('messages').focus({ preventScroll: true });
			return;
		}
		li.className = 'day older';
		if (b) {
			b.textContent = label;
			b.setAttribute('aria-disabled', String(what === 'busy'));
			return;
		}
		li.replaceChildren(h('button', { type: 'button',
		    class: 'btn btn-quiet btn-small', 'aria-disabled': String(what === 'busy'),
		    onclick: () => {
			const now = S.hist.get(id);
			if (!now || now.low === null || now.stale)
				loadNewest(id);
			else
				loadOlder(id);
		    } }, label));
	};
	return { key: 'top', sig: `${what} ${friendName}`, update: fill,
	    build: () => {
		const li = h('li', {});
		fill(li);
		return li;
	    } };
}

function renderChat(toBottom) {
	const id = S.active;
	$('chat-empty').hidden = id !== null;
	$('chat-main').hidden = id === null;
	if (id === null)
		return;
	renderChatHead();
	const box = $('messages');
	if (box.dataset.conv !== id) {
		box.replaceChildren();
		box.dataset.conv = id;
		toBottom = true;
	}
	const atBottom = box.scrollTop + box.clientHeight >= box.scrollHeight - 40;
	// Scrolled up: what is in view stays where it is, whatever comes
	// above it (an older page) or below.
	let anchor = null;
	if (!toBottom && !atBottom) {
		const top = box.getBoundingClientRect().top;
		for (const el of box.children) {
			// A message, not the first row or a day's heading:
			// they stay first when older messages of the same day
			// come, pushing down what the person was reading.
			if (!el.classList.contains('msg'))
				continue;
			const r = el.getBoundingClientRect();
			if (r.bottom > top) {
				anchor = { key: el.dataset.key, off: r.top - top };
				break;
			}
		}
	}
	const friendName = S.friends.get(id)?.username || id;
	const items = [topSpec(id, friendName)];
	let day = null;
	for (const m of S.convs.get(id) ?? []) {
		const t = new Date(m.time);
		if (dayKey(t) !== day) {
			day = dayKey(t);
			items.push({ key: `day ${day}`, sig: dayLabel(t),
			    build: () => h('li', { class: 'day', text: dayLabel(t) }) });
		}
		const meta = [h('time', { datetime: m.time, title: t.toLocaleString(), text: clock(t) })];
		if (m.mine && m.state === 'sending')
			meta.push(h('span', { class: 'state', text: ' · sending…' }));
		const tick = m.mine && m.state === 'sent' ? tickOf(m) : null;
		if (tick)
			meta.push(' ', h('span', { class: `tick ${tick.cls}`, title: tick.word },
			    h('span', { 'aria-hidden': 'true', text: tick.mark }), ` ${tick.word}`));
		items.push({ key: m.key, sig: `${m.state} ${m.error ?? ''} ${m.mine ? '' : friendName} ${tick?.cls ?? ''} ${m.msgId ?? ''}`, build: () =>
		    h('li', { class: `msg ${m.mine ? 'mine' : 'theirs'}${m.state === 'failed' ? ' failed' : ''}`, 'data-msg-id': m.msgId || null },
		    h('span', { class: 'sr-only', text: m.mine ? 'You: ' : `${friendName}: ` }),
		    h('div', { class: 'bubble' }, linkify(m.text)),
		    h('div', { class: 'meta' }, meta),
		    m.state === 'failed' ? h('div', { class: 'error' },
			h('span', { text: m.error ?? 'Not sent.' }), ' ',
			h('button', { type: 'button', class: 'btn btn-quiet btn-small',
			    onclick: () => resend(id, m) }, 'Retry')) : null) });
	}
	const hadFocus = box.contains(document.activeElement);
	reconcile(box, items);
	if (hadFocus && !box.contains(document.activeElement))
		$('message').focus();
	if (toBottom || atBottom)
		box.scrollTop = box.scrollHeight;
	else if (anchor) {
		const el = [...box.children].find((e) => e.dataset.key === anchor.key);
		if (el)
			box.scrollTop += el.getBoundingClientRect().top -
			    box.getBoundingClientRect().top - anchor.off;
	}
	sendRead();
}

function updateSize() {
	const ta = $('message');
	ta.style.height = 'auto';
	ta.style.height = `${Math.min(ta.scrollHeight, 160)}px`;
	const out = $('send-size');
	if (!S.me || !S.active || ta.value === '') {
		out.textContent = '';
		ta.removeAttribute('aria-invalid');
		return;
	}
	const n = deliveredSize(S.me.id, S.active, ta.value);
	if (n > PACKET_MAX) {
		out.textContent = `Too long by ${n - PACKET_MAX} byte${n - PACKET_MAX === 1 ? '' : 's'}.`;
		out.className = 'too-long';
		ta.setAttribute('aria-invalid', 'true');
	} else {
		out.textContent = n > PACKET_MAX - 300 ? `${PACKET_MAX - n} bytes left.` : '';
		out.className = '';
		ta.removeAttribute('aria-invalid');
	}
}

async function deliver(id, m) {
	m.state = 'sending';
	m.error = null;
	renderChat(true);
	let r;
	try {
		r = await req({ command: 'send_message', src: S.me.id, dst: id, message: m.text });
	} catch (e) {
		r = { status: 'fail', detail: e.message };
	}
	if (r.status === 'success') {
		m.state = 'sent';
		// The server names the stored message; one that does not (an
		// older server) is recognised in the next history page.
		if (isAccountId(String(r.msg_id ?? '')))
			nameSent(id, m, String(r.msg_id), r.time);
		else
			syncSoon(id);
	} else {
		m.state = 'failed';
		m.error = r.detail === 'connection lost' || r.detail === 'timeout' ?
		    'The connection was lost before the server confirmed this message.' :
		    `Not sent. ${detailText(r.detail)}`;
	}
	saveSoon();
	renderFriends();
	if (S.active === id)
		renderChat(false);
}

function resend(id, m) {
	if (!S.conn || S.connecting) {
		showError($('send-error'), 'You are offline. Wait for the connection to come back, then retry.');
		return;
	}
	deliver(id, m);
	$('message').focus();
}

function sendMessage(ev) {
	ev?.preventDefault();
	const ta = $('message');
	const err = $('send-error');
	const text = ta.value;
	const id = S.active;
	if (!id || text.trim() === '')
		return;
	const n = deliveredSize(S.me.id, id, text);
	if (n > PACKET_MAX) {
		showError(err, `This message is too long to send: ${n} bytes with the packet around it, ` +
		    `at most ${PACKET_MAX} allowed. Shorten it by about ${n - PACKET_MAX} bytes.`);
		ta.focus();
		return;
	}
	if (!S.conn || S.connecting) {
		showError(err, 'You are offline: the message was not sent. It stays here; send it again once reconnected.');
		return;
	}
	showError(err, null);
	const m = addMessage(id, { mine: true, text, time: new Date().toISOString(), state: 'sending' });
	ta.value = '';
	updateSize();
	deliver(id, m);
}

// --- log in, register, log out --------------------------------------------

function selectTab(which) {
	const login = which === 'login';
	$('tab-login').setAttribute('aria-selected', String(login));
	$('tab-register').setAttribute('aria-selected', String(!login));
	$('tab-login').tabIndex = login ? 0 : -1;
	$('tab-register').tabIndex = login ? -1 : 0;
	const show = panels[login ? 'login' : 'register'];
	const box = $('auth-panels');
	if (box.children.length !== 1 || box.firstElementChild !== show)
		box.replaceChildren(show);
}

function showAuth(tab) {
	$('app').hidden = true;
	$('me').hidden = true;
	$('conn').hidden = true;
	$('auth').hidden = false;
	selectTab(tab);
}

function showApp() {
	$('auth').hidden = true;
	$('app').hidden = false;
	$('me').hidden = false;
	$('me-name').textContent = S.me.username;
	$('me-id').textContent = S.me.id;
	$('app').dataset.pane = 'list';
	S.active = null;
	renderRequests();
	renderOutgoing();
	renderResults();
	renderBlocked();
	renderFriends();
	renderNotify();
	renderChat(true);
	showConn('online');
}

function resetSession() {
	S.creds = null;
	clearTimeout(S.retryTimer);
	S.retryTimer = null;
	clearInterval(S.tick);
	for (const t of S.syncTimers.values())
		clearTimeout(t);
	S.syncTimers.clear();
	if (S.ackTimer) {
		clearTimeout(S.ackTimer);
		flushAcks();
	}
	eraseHistory();
	dropConn();
	closeMenu(false);
	if ($('confirm').open)
		$('confirm').close();
	closeNotes();
	S.me = null;
	S.friends.clear();
	S.requests.clear();
	S.outgoing.clear();
	S.results.clear();
	S.blocked.clear();
	S.convs.clear();
	S.unread.clear();
	S.hist.clear();
	S.receipts.clear();
	S.presence.clear();
	S.dropped.clear();
	S.active = null;
	S.retry = 0;
	for (const list of ['friend-list', 'request-list', 'sent-list',
	    'result-list', 'blocked-list', 'messages'])
		$(list).replaceChildren();
	delete $('messages').dataset.conv;
	$('message').value = '';
	document.title = 'Chat';
}

function endSession(message) {
	const id = S.me?.id ?? '';
	resetSession();
	showAuth('login');
	$('new-id').hidden = true;
	$('login-id').value = id;
	$('login-password').value = '';
	showError($('login-error'), message);
	$('login-password').focus();
}

async function logout() {
	const conn = S.conn;
	const id = S.me?.id;
	S.creds = null;	// no reconnect from here on
	if (S.ackTimer) {
		clearTimeout(S.ackTimer);
		flushAcks();
	}
	if (conn && conn.isOpen && !S.connecting) {
		try {
			await Promise.race([
				conn.request({ command: 'logout', id }),
				new Promise((r) => setTimeout(r, 2000)),
			]);
		} catch (e) {
			// gone anyway
		}
	}
	endSession(null);
}

async function login(ev) {
	ev.preventDefault();
	const idEl = $('login-id');
	const pwEl = $('login-password');
	const err = $('login-error');
	const id = idEl.value.trim();
	const password = pwEl.value;
	if (!isAccountId(id)) {
		showError(err, 'An account id is a number, like 10000: the one shown when you registered.');
		idEl.setAttribute('aria-invalid', 'true');
		idEl.focus();
		return;
	}
	idEl.removeAttribute('aria-invalid');
	if (password === '') {
		showError(err, 'Enter your password.');
		pwEl.focus();
		return;
	}
	if (S.connecting)
		return;
	showError(err, null);
	const button = ev.target.querySelector('button[type=submit]');
	button.disabled = true;
	button.textContent = 'Logging in…';
	S.connecting = true;
	let r;
	try {
		r = await connectAndLogin(id, password);
	} catch (e) {
		r = { status: 'fail', detail: e.message };
	}
	S.connecting = false;
	button.disabled = false;
	button.textContent = 'Log in';
	if (r.status !== 'success') {
		dropConn();
		showError(err, detailText(r.detail));
		(r.detail === 'wrong id or password' ? pwEl : idEl).focus();
		return;
	}
	if (!S.conn || S.conn.closed) {	// closed right after the answer
		dropConn();
		showError(err, detailText('connection lost'));
		return;
	}
	// Synchronously from here: what waited for the account comes next.
	S.creds = { id, password };
	S.me = { id, username: r.username ?? '' };
	S.retry = 0;
	store.set('chat.v1.lastId', id);
	loadHistory();
	pwEl.value = '';
	$('new-id').hidden = true;
	showApp();
	$('friend-id').focus();
	S.focusFriend = true;
	refreshFriends();
	refreshBlocked();
}

async function registerSubmit(ev) {
	ev.preventDefault();
	const uEl = $('reg-username');
	const pEl = $('reg-password');
	const err = $('register-error');
	const username = uEl.value;
	const password = pEl.value;
	const problem = usernameProblem(username) ?? passwordProblem(password);
	if (problem) {
		showError(err, problem);
		(usernameProblem(username) ? uEl : pEl).focus();
		return;
	}
	showError(err, null);
	const button = ev.target.querySelector('button[type=submit]');
	button.disabled = true;
	button.textContent = 'Registering…';
	const r = await register(username, password);
	button.disabled = false;
	button.textContent = 'Register';
	if (r.status !== 'success' || !r.id) {
		showError(err, detailText(r.detail));
		return;
	}
	const id = String(r.id);
	store.set('chat.v1.lastId', id);
	uEl.value = '';
	pEl.value = '';
	selectTab('login');
	$('new-id-value').textContent = id;
	$('copy-state').textContent = '';
	$('new-id').hidden = false;
	$('login-id').value = id;
	$('login-password').value = password;
	showError($('login-error'), null);
	$('copy-id').focus();
}

async function copyId() {
	const id = $('new-id-value').textContent;
	try {
		await navigator.clipboard.writeText(id);
		$('copy-state').textContent = 'Copied.';
	} catch (e) {
		const range = document.createRange();
		range.selectNodeContents($('new-id-value'));
		getSelection().removeAllRanges();
		getSelection().addRange(range);
		$('copy-state').textContent = 'Selected: press Ctrl+C to copy.';
	}
}

// Live hints while typing the registration form.
function checkRegisterField(el, problemFn) {
	const p = el.value === '' ? null : problemFn(el.value);
	if (p)
		el.setAttribute('aria-invalid', 'true');
	else
		el.removeAttribute('aria-invalid');
	return p;
}

// --- wiring ---------------------------------------------------------------

function init() {
	for (const which of ['login', 'register']) {
		panels[which] = $(`panel-${which}`);
		panels[which].hidden = false;
	}
	$('login-form').addEventListener('submit', login);
	$('register-form').addEventListener('submit', registerSubmit);
	$('add-form').addEventListener('submit', addFriend);
	$('send-form').addEventListener('submit', sendMessage);
	$('logout').addEventListener('click', logout);
	$('copy-id').addEventListener('click', copyId);
	$('notify').addEventListener('change', notifyChanged);
	$('requests-jump').addEventListener('click', (e) => {
		e.preventDefault();
		$('requests').scrollIntoView({ block: 'nearest' });
		$('requests').focus({ preventScroll: true });
	});
	$('back').addEventListener('click', () => {
		const id = S.active;
		$('app').dataset.pane = 'list';
		$('friend-list').querySelector(`[data-id="${CSS.escape(id ?? '')}"]`)?.focus();
	});
	for (const tab of ['login', 'register']) {
		const el = $(`tab-${tab}`);
		el.addEventListener('click', () => selectTab(tab));
		el.addEventListener('keydown', (e) => {
			if (e.key === 'ArrowLeft' || e.key === 'ArrowRight' ||
			    e.key === 'Home' || e.key === 'End') {
				e.preventDefault();
				const next = tab === 'login' ? 'register' : 'login';
				const to = e.key === 'Home' ? 'login' : e.key === 'End' ? 'register' : next;
				selectTab(to);
				$(`tab-${to}`).focus();
			}
		});
	}
	const uEl = $('reg-username');
	const pEl = $('reg-password');
	const regHint = () => {
		const p = checkRegisterField(uEl, usernameProblem) ??
		    checkRegisterField(pEl, passwordProblem);
		checkRegisterField(uEl, usernameProblem);
		checkRegisterField(pEl, passwordProblem);
		showError($('register-error'), p);
	};
	uEl.addEventListener('input', regHint);
	pEl.addEventListener('change', regHint);
	pEl.addEventListener('input', () => {
		if (pEl.getAttribute('aria-invalid'))
			regHint();
	});
	const ta = $('message');
	ta.addEventListener('keydown', (e) => {
		if (e.key === 'Enter' && !e.shiftKey && !e.isComposing &&
		    !e.altKey && !e.ctrlKey && !e.metaKey) {
			e.preventDefault();
			sendMessage();
		}
	});
	ta.addEventListener('input', () => {
		updateSize();
		if (!$('send-error').hidden)
			showError($('send-error'), null);
	});
	$('friend-id').addEventListener('input', () => showError($('add-error'), null));
	document.addEventListener('visibilitychange', () => {
		if (document.visibilityState !== 'visible' || !S.me)
			return;
		closeNotes();	// the person is back: the page shows it all
		if (S.active && chatVisible(S.active) && S.unread.delete(S.active))
			renderFriends();
		sendRead();
		refreshFriends();
	});
	window.addEventListener('online', () => {
		if (S.retryTimer)
			reconnect();
	});
	window.addEventListener('pagehide', () => {
		if (S.me)
			saveHistory();
	});
	wide.addEventListener('change', () => renderChat(false));
	$('messages').addEventListener('scroll', () => {
		if (S.active && $('messages').scrollTop < 80)
			loadOlder(S.active);
	}, { passive: true });

	S.notify = store.get('chat.v1.notify') === true;
	const last = store.get('chat.v1.lastId');
	if (typeof last === 'string' && isAccountId(last))
		$('login-id').value = last;
	showAuth('login');
	($('login-id').value ? $('login-password') : $('login-id')).focus();
}

init();

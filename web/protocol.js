// The wire side of the web client: one WebSocket to /ws speaking the
// JSON packets of PROTOCOL.md, the limits the server checks, and the
// plain-words text of every "detail" a fail can carry.

export const PACKET_MAX = 2048;
export const USERNAME_MAX = 32;
export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 128;

const utf8 = new TextEncoder();

export function byteLength(s) {
	return utf8.encode(s).length;
}

// The size a message is held to, as the server measures it: the longer of
// the send_message packet the recipient would get and a history_return
// holding the message alone (which is the longer), in compact JSON with
// non-ASCII as raw UTF-8, the longest msg_id (20 digits), both ticks false
// and "oldest".  JSON.stringify escapes the same characters as the
// server's JSON printer.
export function deliveredSize(src, dst, message) {
	const s = String(src);
	const d = String(dst);
	const live = JSON.stringify({
		command: 'send_message', src: s, dst: d,
		message, msg_id: '18446744073709551615',
		time: '0000-00-00T00:00:00Z',
	});
	const history = JSON.stringify({
		command: 'history_return', status: 'success',
		with: BigInt(s) > BigInt(d) ? s : d,
		messages: [{ msg_id: '18446744073709551615', src: s, dst: d,
		    message, time: '0000-00-00T00:00:00Z', delivered: false,
		    read: false }],
		oldest: true,
	});
	return Math.max(byteLength(live), byteLength(history));
}

// C0, DEL and C1 controls: refused in a username.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/u;

// Why a username would be refused, or null.
export function usernameProblem(name) {
	const n = [...name].length;
	if (n === 0)
		return 'Choose a username.';
	if (n > USERNAME_MAX)
		return `A username has at most ${USERNAME_MAX} characters (this one has ${n}).`;
	if (CONTROL.test(name))
		return 'A username cannot hold control characters (tabs, line breaks…).';
	if (/[\ud800-\udfff]/u.test(name))
		return 'This username holds a broken character.';
	return null;
}

// Why a password would be refused at registration, or null.
export function passwordProblem(pw) {
	const n = byteLength(pw);
	if (n < PASSWORD_MIN)
		return `A password needs at least ${PASSWORD_MIN} bytes (${n} so far).`;
	if (n > PASSWORD_MAX)
		return `A password has at most ${PASSWORD_MAX} bytes (this one has ${n}).`;
	return null;
}

export function isAccountId(s) {
	return /^[1-9][0-9]{0,19}$/.test(s);
}

// Plain words for every detail of PROTOCOL.md (and docs/ARCHITECTURE.md's
// error packets).  what: the action that failed, for the fallback.
const DETAILS = {
	'wrong id or password': 'That account id and password do not match. Check both and try again.',
	'account disabled': 'This account has been disabled. Contact the administrator.',
	'too many attempts': 'Too many attempts. Wait a minute, then try again.',
	'already logged in': 'This connection is already logged in.',
	'not logged in': 'You are not logged in on this connection. Reconnecting…',
	'src is not you': 'The server did not accept this as coming from you. Log out and in again.',
	'bad username': 'The server refused the username: 1–32 characters, no control characters.',
	'bad password': 'The server refused the password: it must be 8–128 bytes long.',
	'no such user': 'No account has this id. Check the number.',
	'cannot add yourself': 'This is your own id: you cannot add yourself.',
	'already friends': 'You are already friends.',
	'bad status': 'The server did not accept the kind of follow.',
	'too many pending requests': 'You have too many friend requests waiting for an answer. Wait for some answers first.',
	'no pending request': 'This request is no longer waiting: it was answered or withdrawn.',
	'blocked': 'You block this account. Unblock it first (under “Blocked”).',
	'cannot block yourself': 'This is your own id: you cannot block yourself.',
	'already blocked': 'You block this account already.',
	'too many blocked': 'You block too many accounts already. Unblock some first.',
	'not blocked': 'This account is not blocked (any more).',
	'not friends': 'You are not friends with this person (any more), so the message was not sent.',
	'empty message': 'Write something first.',
	'message too long': 'This message is too long to send. Shorten it.',
	'rate limited': 'You are going too fast. Wait a moment and try again.',
	'server error': 'Something went wrong on the server; nothing was done. Try again.',
	'rejected': 'Your friend request was declined.',
	'packet too large': 'This is too large to send.',
	'bad encoding': 'This holds characters that cannot be sent.',
	'bad json': 'The page sent something the server could not read (a bug). Reload the page.',
	'bad request': 'The page sent something the server could not read (a bug). Reload the page.',
	'no command': 'The page sent something the server could not read (a bug). Reload the page.',
	'unknown command': 'The server does not know this request (a bug, or an older server).',
	'connection lost': 'The connection was lost before the server answered.',
	'timeout': 'The server did not answer in time.',
	'unreachable': 'Cannot reach the server. Check your connection and try again.',
};

export function detailText(detail) {
	return DETAILS[detail] ??
	    `The server refused this: “${String(detail ?? 'unknown reason')}”.`;
}

// Registration over plain HTTP (PROTOCOL.md section 8): no socket is
// held open for a person who is only filling in a form.
export async function register(username, password) {
	let res;
	try {
		res = await fetch('/api/logon', {
			method: 'POST',
			headers: { 'Content-Type': 'application/json' },
			body: JSON.stringify({ command: 'logon', username, password }),
			signal: AbortSignal.timeout(20000),
		});
	} catch (e) {
		return { status: 'fail', detail: e.name === 'TimeoutError' ?
		    'timeout' : 'unreachable' };
	}
	try {
		return await res.json();
	} catch (e) {
		return { status: 'fail', detail: res.status >= 500 ?
		    'server error' : 'unreachable' };
	}
}

// The answers that may come in several packets, and the field of each
// that holds its part of the list.  The joined answer keeps the other
// fields of the last packet (history's "oldest").
const PAGED = { list_friend: 'friends', list_blocked: 'blocked',
    history: 'messages' };

// One WebSocket.  request() sends a packet and resolves with its answer
// (the server handles a connection's packets in order, so answers come in
// the order of the requests); every other packet is a push, given to
// onpush.  onclose is called once, when the socket ends.
export class Connection {
	constructor(url, { onpush, onclose, timeout = 20000 } = {}) {
		this.url = url;
		this.onpush = onpush ?? (() => {});
		this.onclose = onclose ?? (() => {});
		this.timeout = timeout;
		this.pending = [];
		this.ws = null;
		this.closed = false;
	}

	open() {
		return new Promise((resolve, reject) => {
			let ws;
			try {
				ws = new WebSocket(this.url);
			} catch (e) {
				reject(new Error('unreachable'));
				return;
			}
			this.ws = ws;
			let opened = false;
			ws.onopen = () => { opened = true; resolve(); };
			ws.onmessage = (ev) => this._message(ev.data);
			ws.onclose = () => {
				if (!opened)
					reject(new Error('unreachable'));
				this._closed();
			};
			ws.onerror = () => {};	// onclose follows
		});
	}

	get isOpen() {
		return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
	}

	send(packet) {
		if (!this.isOpen)
			throw new Error('connection lost');
		this.ws.send(JSON.stringify(packet));
	}

	// Resolves with the answer (a paged list: every part joined); rejects
	// with Error('connection lost' | 'timeout').
	request(packet) {
		return new Promise((resolve, reject) => {
			const entry = {
				command: packet.command, src: packet.src,
				dst: packet.dst, parts: [], resolve, reject,
			};
			try {
				this.send(packet);
			} catch (e) {
				reject(e);
				return;
			}
			entry.timer = setTimeout(() => {
				// An answer that never came breaks the order
				// of the rest: start afresh.
				this._reject(entry, new Error('timeout'));
				this.close();
			}, this.timeout);
			this.pending.push(entry);
		});
	}

	close() {
		if (this.ws && this.ws.readyState <= WebSocket.OPEN)
			this.ws.close();
		this._closed();
	}

	_reject(entry, err) {
		const i = this.pending.indexOf(entry);
		if (i >= 0)
			this.pending.splice(i, 1);
		clearTimeout(entry.timer);
		entry.reject(err);
	}

	_resolve(entry, p) {
		const i = this.pending.indexOf(entry);
		if (i >= 0)
			this.pending.splice(i, 1);
		clearTimeout(entry.timer);
		entry.resolve(p);
	}

	_closed() {
		if (this.closed)
			return;
		this.closed = true;
		for (const e of this.pending.slice())
			this._reject(e, new Error('connection lost'));
		this.onclose();
	}

	// Which pending request p answers, or null for a push.
	_answers(p) {
		const cmd = typeof p.command === 'string' ? p.command : '';
		const head = this.pending[0];
		if (cmd === 'error')
			return head ?? null;
		if (!cmd.endsWith('_return'))
			return null;
		const asked = cmd.slice(0, -'_return'.length);
		// "rate limited" is answered on arrival, ahead of what was
		// still queued: it answers the newest request of its kind.
		if (p.status === 'fail' && p.detail === 'rate limited') {
			for (let i = this.pending.length - 1; i >= 0; i--)
				if (this.pending[i].command === asked)
					return this.pending[i];
			return null;
		}
		if (!head || head.command !== asked)
			return null;
		// The answer to a confirm is the account-wide result (with
		// src and dst) or a plain fail; a friend's answer to our own
		// request has the same command but is a push.
		if (asked === 'add_friend_confirm') {
			if (p.status === 'success')
				return String(p.src) === String(head.src) &&
				    String(p.dst) === String(head.dst) ? head : null;
			return p.detail === 'rejected' ? null : head;
		}
		return head;
	}

	_message(data) {
		let p;
		try {
			p = JSON.parse(data);
		} catch (e) {
			return;
		}
		if (p === null || typeof p !== 'object' || Array.isArray(p))
			return;
		const entry = this._answers(p);
		if (!entry) {
			this.onpush(p);
			return;
		}
		const field = PAGED[entry.command];
		if (field && p.status === 'success') {
			entry.parts.push(...(Array.isArray(p[field]) ? p[field] : []));
			if (p.more === true) {
				clearTimeout(entry.timer);
				entry.timer = setTimeout(() => {
					this._reject(entry, new Error('timeout'));
					this.close();
				}, this.timeout);
				return;
			}
			p = { ...p, [field]: entry.parts };
		}
		this._resolve(entry, p);
	}
}

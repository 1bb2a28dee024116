// Message text as DOM nodes, with web addresses made into links.  Only
// text nodes and <a> elements are made, never markup from the text, and
// only http: and https: addresses become links, so that a message holding
// "<img onerror=…>" or "javascript:…" shows exactly what was typed.

// A candidate starts with the scheme; what ends it is whitespace or a
// character that cannot stand raw in an address.
const CANDIDATE = /https?:\/\/[^\s<>"'`]+/giu;

// Punctuation after an address usually belongs to the sentence.
const TRAILING = /[.,;:!?'"»”’]$/u;
const PAIRS = { ')': '(', ']': '[', '}': '{' };

function trimEnd(s) {
	for (;;) {
		if (TRAILING.test(s)) {
			s = s.slice(0, -1);
			continue;
		}
		const open = PAIRS[s.at(-1)];
		// "(see https://en.wikipedia.org/wiki/Foo_(bar))": a closing
		// bracket stays when the address opened one.
		if (open && s.split(open).length <= s.split(s.at(-1)).length - 1) {
			s = s.slice(0, -1);
			continue;
		}
		return s;
	}
}

// The address a candidate names, or null when it is no http(s) URL.
export function webAddress(s) {
	let u;
	try {
		u = new URL(s);
	} catch (e) {
		return null;
	}
	if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.hostname === '')
		return null;
	return u.href;
}

// [{text}|{text, href}] covering text exactly, in order.
export function splitLinks(text) {
	const parts = [];
	let at = 0;
	for (const m of text.matchAll(CANDIDATE)) {
		const raw = trimEnd(m[0]);
		const href = webAddress(raw);
		if (!href)
			continue;
		if (m.index > at)
			parts.push({ text: text.slice(at, m.index) });
		parts.push({ text: raw, href });
		at = m.index + raw.length;
	}
	if (at < text.length)
		parts.push({ text: text.slice(at) });
	return parts;
}

// Nodes for el.append(): text nodes, and links that open in a new tab
// without giving it a handle on this page (noopener) or the chat's
// address (noreferrer).
export function linkify(text) {
	return splitLinks(text).map((p) => {
		if (!p.href)
			return document.createTextNode(p.text);
		const a = document.createElement('a');
		a.href = p.href;
		a.textContent = p.text;
		a.target = '_blank';
		a.rel = 'noopener noreferrer';
		return a;
	});
}

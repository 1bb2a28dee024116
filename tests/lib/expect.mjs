// Assertions on answers.  Each looks only at the fields it names, so that
// the server may add extension fields (PROTOCOL.md) without breaking a test.
import assert from 'node:assert/strict';

// The listed fields of p (those it has).
export function pick(p, ...keys) {
	const o = {};
	for (const k of keys)
		if (k in p)
			o[k] = p[k];
	return o;
}

// p is command's fail with this detail.
export function assertFail(p, command, detail, message) {
	assert.deepEqual(pick(p, 'command', 'status', 'detail'),
	    { command, status: 'fail', detail }, message ?? JSON.stringify(p));
}

// p is the error packet with this detail.
export function assertError(p, detail, message) {
	assertFail(p, 'error', detail, message);
}

// p is command's success.
export function assertSuccess(p, command, message) {
	assert.deepEqual(pick(p, 'command', 'status'),
	    { command, status: 'success' }, message ?? JSON.stringify(p));
}

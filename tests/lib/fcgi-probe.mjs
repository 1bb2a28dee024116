// A FastCGI responder on a Unix socket that answers every request with
// the params it was sent, as a JSON object (the last value of a name
// sent twice wins, and `_dups` lists such names): what a web server in
// front passes to the workers, seen from their side.
//
//   const probe = await fcgiProbe(path);   // listening, mode 0666
//   ... GET through the web server: the body is {NAME: value, ...}
//   await probe.close();
import fs from 'node:fs';
import net from 'node:net';

const BEGIN_REQUEST = 1;
const END_REQUEST = 3;
const PARAMS = 4;
const STDIN = 5;
const STDOUT = 6;

function record(type, id, content) {
	const h = Buffer.alloc(8);
	h[0] = 1;
	h[1] = type;
	h.writeUInt16BE(id, 2);
	h.writeUInt16BE(content.length, 4);
	return Buffer.concat([h, content]);
}

// Name-value pairs of a PARAMS stream (FastCGI 1.0, section 3.4).
function pairs(buf) {
	const out = [];
	let i = 0;
	const len = () => {
		if (buf[i] >> 7 === 0)
			return buf[i++];
		const n = buf.readUInt32BE(i) & 0x7fffffff;
		i += 4;
		return n;
	};
	while (i < buf.length) {
		const nl = len();
		const vl = len();
		out.push([buf.toString('latin1', i, i + nl),
		    buf.toString('latin1', i + nl, i + nl + vl)]);
		i += nl + vl;
	}
	return out;
}

function answer(sock, id, params) {
	const seen = {};
	const dups = [];
	for (const [k, v] of params) {
		if (k in seen)
			dups.push(k);
		seen[k] = v;
	}
	const body = JSON.stringify({ ...seen, _dups: dups });
	const out = Buffer.from('Status: 200 OK\r\n' +
	    'Content-Type: application/json\r\n\r\n' + body, 'latin1');
	const end = Buffer.alloc(8);	// appStatus 0, FCGI_REQUEST_COMPLETE
	sock.end(Buffer.concat([record(STDOUT, id, out),
	    record(STDOUT, id, Buffer.alloc(0)), record(END_REQUEST, id, end)]));
}

// One connection: one request (the web servers here keep none open).
function serve(sock) {
	let buf = Buffer.alloc(0);
	let params = Buffer.alloc(0);
	let id = 0;
	sock.on('error', () => {});
	sock.on('data', (d) => {
		buf = Buffer.concat([buf, d]);
		while (buf.length >= 8) {
			const type = buf[1];
			const len = buf.readUInt16BE(4);
			const pad = buf[6];
			if (buf.length < 8 + len + pad)
				return;
			const content = buf.subarray(8, 8 + len);
			if (type === BEGIN_REQUEST)
				id = buf.readUInt16BE(2);
			else if (type === PARAMS)
				params = Buffer.concat([params, content]);
			else if (type === STDIN && len === 0) {
				answer(sock, id, pairs(params));
				return;
			}
			buf = buf.subarray(8 + len + pad);
		}
	});
}

export function fcgiProbe(path) {
	return new Promise((resolve, reject) => {
		const srv = net.createServer(serve);
		srv.once('error', reject);
		srv.listen(path, () => {
			// The web server's workers run as another user.
			fs.chmodSync(path, 0o666);
			resolve({ close: () => new Promise((r) => srv.close(r)) });
		});
	});
}

/*
 * The daemon <-> worker envelope (docs/ARCHITECTURE.md, "The envelope").
 * The push daemon sends each client packet as a FastCGI request carrying
 * these params; the worker answers with a JSON list of actions.  nginx's
 * /api location sets every CHAT_* param to "" so that HTTP clients can
 * never pose as a connection.
 */
#ifndef COMMON_ENVELOPE_H
#define COMMON_ENVELOPE_H

/* FastCGI params, daemon -> worker */
#define ENV_CONN_ID		"CHAT_CONN_ID"	/* decimal, unique per daemon run */
#define ENV_ACCOUNT		"CHAT_ACCOUNT"	/* bound account id, or "" */
#define ENV_ACK_MODE		"CHAT_ACK_MODE"	/* "1": bound with "ack":true */
#define ENV_TRANSPORT		"CHAT_TRANSPORT" /* "ws" or "tcp" */
#define ENV_NODE		"CHAT_NODE"	/* config node_name */
#define ENV_REMOTE_ADDR		"CHAT_REMOTE_ADDR" /* client address */
#define ENV_EVENT		"CHAT_EVENT"	/* see ENV_EVENT_* */

/* ENV_EVENT values; the body's meaning depends on it */
#define ENV_EVENT_PACKET	"packet"	/* body: one client packet */
#define ENV_EVENT_CLOSED	"closed"	/* body empty: conn has ended */
#define ENV_EVENT_WRITTEN	"written"	/* body: {"tracks":[...]} */
#define ENV_EVENT_STARTED	"started"	/* body empty: daemon (re)start */
#define ENV_EVENT_FETCH		"fetch"		/* body: {"after":...} or empty */

#define ENV_TRANSPORT_WS	"ws"
#define ENV_TRANSPORT_TCP	"tcp"

/* Answer body, worker -> daemon: {"actions":[{"op":...}, ...]} */
#define ENV_ACTIONS		"actions"
#define ENV_OP			"op"
#define ENV_OP_SEND		"send"		/* "data"; "account" or this conn */
#define ENV_OP_BIND		"bind"		/* "account", "ack" (bool) */
#define ENV_OP_UNBIND		"unbind"
#define ENV_OP_CLOSE		"close"		/* close once output drains */
#define ENV_OP_FETCH		"fetch"		/* ask for a fetch event next */
#define ENV_DATA		"data"		/* a packet as JSON text */
#define ENV_ACCOUNT_FIELD	"account"
#define ENV_ACK_FIELD		"ack"
#define ENV_TRACK_FIELD		"track"		/* report back when written */
#define ENV_AFTER_FIELD		"after"		/* fetch cursor, opaque */
#define ENV_TRACKS_FIELD	"tracks"	/* written event body */

#endif

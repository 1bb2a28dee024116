/*
 * The daemon <-> worker envelope (docs/ARCHITECTURE.md, "The envelope").
 * The push daemon sends each client packet as a FastCGI request carrying
 * these params; the worker answers with a JSON list of actions.  nginx's
 * /api location sets every CHAT_* param to "" so that HTTP clients can
 * never pose as a connection.
 */
#ifndef COMMON_ENVELOPE_H
#define COMMON_ENVELOPE_H

#include "limits.h"

/*
 * A batch (docs/ARCHITECTURE.md, "The envelope"): one FastCGI request on a
 * kept connection whose body is a run of events, each a one-line JSON
 * header naming its connection and the length of the bytes that follow:
 *
 *	{"event":"packet","conn":"12","account":"10000","ack":false,
 *	 "transport":"ws","remote":"127.0.0.1","length":57}\n<57 bytes>
 *
 * The bytes are the client's packet as it came (never re-escaped), or an
 * event's body.  The answer is {"answers":[...]}, one object per event in
 * the same order: {"actions":[...]} or {"failed":true}.
 */
#define ENV_SCRIPT_BATCH	"/batch"
#define ENV_BATCH_HEADER_MAX	512	/* one event's header line */
#define ENV_BATCH_MAX		256	/* events in one batch, at most */
#define ENV_BATCH_BODY_MAX	(ENV_BATCH_MAX * (PACKET_MAX + \
				    ENV_BATCH_HEADER_MAX))
#define ENV_EV_EVENT		"event"
#define ENV_EV_CONN		"conn"
#define ENV_EV_ACCOUNT		"account"
#define ENV_EV_ACK		"ack"
#define ENV_EV_TRANSPORT	"transport"
#define ENV_EV_REMOTE		"remote"
#define ENV_EV_LENGTH		"length"
#define ENV_EV_DETAIL		"detail"	/* a refused event's */
#define ENV_ANSWERS		"answers"
#define ENV_FAILED		"failed"

/* FastCGI params, daemon -> worker (CHAT_NODE; the rest is per event) */
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
#define ENV_EVENT_REFUSED	"refused"	/* body: a packet; "detail" */
#define ENV_EVENT_HEARTBEAT	"heartbeat"	/* body empty: the node lives */

#define ENV_TRANSPORT_WS	"ws"
#define ENV_TRANSPORT_TCP	"tcp"

/* Answer body, worker -> daemon: {"actions":[{"op":...}, ...]} */
#define ENV_ACTIONS		"actions"
#define ENV_OP			"op"
#define ENV_OP_SEND		"send"		/* "data"; "account" or this conn;
						   "others": not this conn */
#define ENV_OP_BIND		"bind"		/* "account", "ack" (bool) */
#define ENV_OP_UNBIND		"unbind"
#define ENV_OP_CLOSE		"close"		/* close once output drains */
#define ENV_OP_FETCH		"fetch"		/* ask for a fetch event next */
#define ENV_OP_FETCH_ALL	"fetch_all"	/* heartbeat: a fetch for every
						   bound connection */
#define ENV_DATA		"data"		/* a packet as JSON text */
#define ENV_ACCOUNT_FIELD	"account"
#define ENV_ACK_FIELD		"ack"
#define ENV_TRACK_FIELD		"track"		/* report back when written */
#define ENV_OTHERS_FIELD	"others"	/* true: the account's other
						   connections only */
#define ENV_AFTER_FIELD		"after"		/* fetch cursor, opaque */
#define ENV_TRACKS_FIELD	"tracks"	/* written event body */

/*
 * Between nodes, through Redis: a worker publishes {"sends":[...]} (send
 * actions with an account, as in an answer) on the channel of each node
 * holding one of their accounts; that node's daemon writes them.
 */
#define RELAY_CHANNEL_PREFIX	"chat:node:"
#define RELAY_SENDS		"sends"

#endif

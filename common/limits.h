/*
 * Protocol limits shared by push_daemon and fcgi_app.  The numbers are
 * PROTOCOL.md's; anything an operator may tune lives in config.c instead.
 */
#ifndef COMMON_LIMITS_H
#define COMMON_LIMITS_H

/* Largest packet either way: the original struct Package's BUF_SIZE. */
#define PACKET_MAX		2048

/*
 * A WebSocket message up to this size is answered with an error packet and
 * the connection kept; a longer one is closed with 1009.
 */
#define WS_MESSAGE_MAX		65536

/* Bytes of a TCP packet's little-endian length prefix. */
#define TCP_LENGTH_BYTES	4

/* Account ids are decimal strings; the first one issued. */
#define ACCOUNT_ID_FIRST	10000

/* A password, in bytes: logon's rule, which chatctl applies too. */
#define PASSWORD_MIN		8
#define PASSWORD_MAX		128

/* A decimal uint64 plus NUL. */
#define ID_STR_MAX		21

/* A Unix socket path, NUL included (sun_path). */
#define SOCKET_PATH_MAX		108

#endif

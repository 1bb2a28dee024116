-- Friends, messages and who is online (PROTOCOL.md section 4,
-- docs/ARCHITECTURE.md "Delivery").  Everything that waits for an account
-- lives here until a connection has it: friend requests until answered,
-- confirm results and messages until delivered (or acked).  Times are UTC.

-- One row per direction: a friendship of A and B is the rows (A, B) and
-- (B, A), made together, each with its owner's view of the other.
CREATE TABLE friendships (
	account_id	BIGINT UNSIGNED NOT NULL,
	friend_id	BIGINT UNSIGNED NOT NULL,
	-- 0: normal friend, 1: special follow (account_id's view).
	status		TINYINT UNSIGNED NOT NULL,
	created_at	DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
	PRIMARY KEY (account_id, friend_id),
	KEY friendships_friend (friend_id),
	CONSTRAINT friendships_account FOREIGN KEY (account_id)
	    REFERENCES users (id),
	CONSTRAINT friendships_friend FOREIGN KEY (friend_id)
	    REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Requests not yet answered; sent again at every login of to_id.
CREATE TABLE friend_requests (
	from_id		BIGINT UNSIGNED NOT NULL,
	to_id		BIGINT UNSIGNED NOT NULL,
	-- from_id's view of to_id, as in friendships.status.
	status		TINYINT UNSIGNED NOT NULL,
	created_at	DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
	updated_at	DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
			ON UPDATE CURRENT_TIMESTAMP,
	PRIMARY KEY (from_id, to_id),
	KEY friend_requests_to (to_id),
	CONSTRAINT friend_requests_from FOREIGN KEY (from_id)
	    REFERENCES users (id),
	CONSTRAINT friend_requests_to FOREIGN KEY (to_id)
	    REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The answer to a request, kept for the requester (to_id) until one of
-- its connections has been written the add_friend_confirm_return.
CREATE TABLE friend_results (
	id		BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
	to_id		BIGINT UNSIGNED NOT NULL,
	src		BIGINT UNSIGNED NOT NULL,	-- who asked
	dst		BIGINT UNSIGNED NOT NULL,	-- who answered
	outcome		ENUM('confirmed', 'rejected') NOT NULL,
	created_at	DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
	delivered_at	DATETIME NULL,
	PRIMARY KEY (id),
	KEY friend_results_waiting (to_id, delivered_at, id),
	CONSTRAINT friend_results_to FOREIGN KEY (to_id)
	    REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Every message sent.  Its id is the msg_id clients see.  delivered_at:
-- first written to a connection of the recipient not in ack mode (or
-- acked); acked_at: acked by a connection in ack mode.  Nothing deletes
-- rows: there is no quota that drops a message.
CREATE TABLE messages (
	id		BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
	sender_id	BIGINT UNSIGNED NOT NULL,
	recipient_id	BIGINT UNSIGNED NOT NULL,
	body		TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
	created_at	DATETIME(3) NOT NULL,
	delivered_at	DATETIME(3) NULL,
	acked_at	DATETIME(3) NULL,
	PRIMARY KEY (id),
	KEY messages_undelivered (recipient_id, delivered_at, id),
	KEY messages_unacked (recipient_id, acked_at, id),
	CONSTRAINT messages_sender FOREIGN KEY (sender_id)
	    REFERENCES users (id),
	CONSTRAINT messages_recipient FOREIGN KEY (recipient_id)
	    REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- One row per logged-in connection: list_friend's "online".  A row is made
-- by the connection's first fetch after login, removed when it closes, and
-- all rows of a node are removed when its push daemon (re)starts.
CREATE TABLE presence (
	node		VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin
			NOT NULL,
	conn_id		BIGINT UNSIGNED NOT NULL,
	account_id	BIGINT UNSIGNED NOT NULL,
	ack_mode	BOOLEAN NOT NULL,
	transport	VARCHAR(8) CHARACTER SET ascii COLLATE ascii_bin
			NOT NULL,
	since		DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
	PRIMARY KEY (node, conn_id),
	KEY presence_account (account_id),
	CONSTRAINT presence_account FOREIGN KEY (account_id)
	    REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

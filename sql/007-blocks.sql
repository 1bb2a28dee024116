-- Blocking (PROTOCOL.md section 7, block): account_id blocks blocked_id.
-- The server enforces it and never tells the blocked account: its friend
-- requests to account_id are answered success and dropped, its messages
-- fail "not friends" (block also ends the friendship).  The primary key
-- answers "does A block B" and list_blocked (A's rows in id order); the
-- second key answers the other way round for add_friend and cancel_friend.
-- Both rows go with either account (chatctl deluser).
CREATE TABLE blocks (
	account_id	BIGINT UNSIGNED NOT NULL,
	blocked_id	BIGINT UNSIGNED NOT NULL,
	created_at	DATETIME(3) NOT NULL,
	PRIMARY KEY (account_id, blocked_id),
	KEY blocks_blocked (blocked_id, account_id),
	CONSTRAINT blocks_account FOREIGN KEY (account_id)
	    REFERENCES users (id) ON DELETE CASCADE,
	CONSTRAINT blocks_blocked FOREIGN KEY (blocked_id)
	    REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

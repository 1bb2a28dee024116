-- Accounts.  An account is its id: usernames need not be unique.  Ids are
-- issued from 10000 up (PROTOCOL.md).  Times are UTC (the workers set
-- their session time zone to +00:00).

CREATE TABLE users (
	id		BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
	username	VARCHAR(32) NOT NULL,
	-- libsodium's argon2id string: "$argon2id$v=19$m=...,t=...,p=1$..."
	password_hash	VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin
			NOT NULL,
	-- 1: login answers "account disabled"; the account stays as it is.
	disabled	BOOLEAN NOT NULL DEFAULT FALSE,
	created_at	DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
	PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
  AUTO_INCREMENT=10000;

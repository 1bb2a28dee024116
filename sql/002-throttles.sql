-- Counters behind "too many attempts", kept in the database so that every
-- worker (and every node) shares them.  Each row is one fixed window: it
-- counts from window_start, and a row whose window has passed counts as
-- zero, so any row may be deleted at any time.

-- Failed logins per id in the current minute.  No foreign key: ids that
-- name nobody are counted too, so the answers never tell which ids exist.
CREATE TABLE login_failures (
	account_id	BIGINT UNSIGNED NOT NULL,
	window_start	DATETIME NOT NULL,
	failures	INT UNSIGNED NOT NULL,
	PRIMARY KEY (account_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Accounts registered per client address in the current hour; only used
-- when registrations_per_hour is not 0.  The address is stored as the push
-- daemon or nginx gave it (an IPv4 or IPv6 text form).
CREATE TABLE registrations (
	address		VARBINARY(64) NOT NULL,
	window_start	DATETIME NOT NULL,
	registrations	INT UNSIGNED NOT NULL,
	PRIMARY KEY (address)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

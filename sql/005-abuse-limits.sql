-- Throttles that stop attackers without locking owners out, and volume
-- limits per account.  As in 002-throttles.sql, each counter is a fixed
-- window that starts at its first event, an expired window counts as zero,
-- and any row may be deleted at any time (that only loosens a limit).
--
-- login_failures (002) counted failures per id alone, so five wrong
-- passwords from anywhere kept the owner out too; it is replaced by the
-- three login tables below.

-- Login attempts per (id, client address) in the current minute, this
-- one's included: the slot is taken before the password is hashed, so
-- parallel tries cannot pass the limit.  A success deletes the row.
-- last_failure is kept for an hour: an address with no failure for the id
-- in that time is never held back by the id's backoff.  No foreign key:
-- ids that name nobody are counted too.
CREATE TABLE login_attempts (
	account_id	BIGINT UNSIGNED NOT NULL,
	address		VARBINARY(64) NOT NULL,
	window_start	DATETIME NOT NULL,
	attempts	INT UNSIGNED NOT NULL,
	last_failure	DATETIME NULL,
	PRIMARY KEY (account_id, address)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Login attempts per client address in the current minute, whatever the
-- id (password spraying); a success gives its slot back.
CREATE TABLE login_address_attempts (
	address		VARBINARY(64) NOT NULL,
	window_start	DATETIME NOT NULL,
	attempts	INT UNSIGNED NOT NULL,
	PRIMARY KEY (address)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Failed logins per id from every address; the count restarts after an
-- hour without one.  Past login_failures_per_id (config) each failure
-- sets delayed_until further away (1 s, 2 s, 4 s ... login_backoff_max).
CREATE TABLE login_backoff (
	account_id	BIGINT UNSIGNED NOT NULL,
	failures	INT UNSIGNED NOT NULL,
	last_failure	DATETIME NOT NULL,
	delayed_until	DATETIME(3) NOT NULL,
	PRIMARY KEY (account_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Friend requests sent per account, repeats to one account included, in
-- a one-minute and a one-day window.
CREATE TABLE friend_asks (
	account_id	BIGINT UNSIGNED NOT NULL,
	minute_start	DATETIME NOT NULL,
	minute_asks	INT UNSIGNED NOT NULL,
	day_start	DATETIME NOT NULL,
	day_asks	INT UNSIGNED NOT NULL,
	PRIMARY KEY (account_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

DROP TABLE login_failures;

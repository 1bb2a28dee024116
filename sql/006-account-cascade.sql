-- Erasing an account (chatctl deluser): every row that names it goes with
-- it, in the one DELETE FROM users and so in one transaction.  Until now
-- each of these foreign keys refused the DELETE (friendships_account
-- first), so an account could only be disabled.  friend_results rows that
-- name it as src or dst but are kept for somebody else have no foreign key
-- there; chatctl deletes them in the same transaction.
--
-- The keys are dropped and made again with the same names and columns,
-- only with ON DELETE CASCADE.  With foreign_key_checks off MariaDB adds
-- them in place instead of copying the table (messages may be large); the
-- rows need no new check, as the same keys held them until now.
SET foreign_key_checks = 0;

ALTER TABLE friendships
	DROP FOREIGN KEY friendships_account,
	DROP FOREIGN KEY friendships_friend;
ALTER TABLE friendships
	ADD CONSTRAINT friendships_account FOREIGN KEY (account_id)
	    REFERENCES users (id) ON DELETE CASCADE,
	ADD CONSTRAINT friendships_friend FOREIGN KEY (friend_id)
	    REFERENCES users (id) ON DELETE CASCADE;

ALTER TABLE friend_requests
	DROP FOREIGN KEY friend_requests_from,
	DROP FOREIGN KEY friend_requests_to;
ALTER TABLE friend_requests
	ADD CONSTRAINT friend_requests_from FOREIGN KEY (from_id)
	    REFERENCES users (id) ON DELETE CASCADE,
	ADD CONSTRAINT friend_requests_to FOREIGN KEY (to_id)
	    REFERENCES users (id) ON DELETE CASCADE;

ALTER TABLE friend_results
	DROP FOREIGN KEY friend_results_to;
ALTER TABLE friend_results
	ADD CONSTRAINT friend_results_to FOREIGN KEY (to_id)
	    REFERENCES users (id) ON DELETE CASCADE;

ALTER TABLE messages
	DROP FOREIGN KEY messages_sender,
	DROP FOREIGN KEY messages_recipient;
ALTER TABLE messages
	ADD CONSTRAINT messages_sender FOREIGN KEY (sender_id)
	    REFERENCES users (id) ON DELETE CASCADE,
	ADD CONSTRAINT messages_recipient FOREIGN KEY (recipient_id)
	    REFERENCES users (id) ON DELETE CASCADE;

ALTER TABLE presence
	DROP FOREIGN KEY presence_account;
ALTER TABLE presence
	ADD CONSTRAINT presence_account FOREIGN KEY (account_id)
	    REFERENCES users (id) ON DELETE CASCADE;

SET foreign_key_checks = 1;

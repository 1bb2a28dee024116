-- A version id for each pending friend request: asking again replaces the
-- row, and the new row gets a new id.  The workers send a request with the
-- track "q<id>", so that the push daemon drops a live copy of a request
-- that the recipient's login fetch has already written (the same as for
-- messages and confirm results), while a request asked again still goes
-- out.
ALTER TABLE friend_requests
	ADD COLUMN id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
	ADD UNIQUE KEY friend_requests_id (id);

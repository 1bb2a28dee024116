-- History and read state (PROTOCOL.md section 7: history, read, receipt).
--
-- history reads one conversation newest first: the messages from A to B
-- and those from B to A, each a range of messages_conversation scanned
-- backwards from "before", so a page costs the same however many messages
-- the two, or anybody, have (docs/ARCHITECTURE.md shows the EXPLAIN).  The
-- key starts with sender_id, so it also serves the messages_sender foreign
-- key: MariaDB drops the index it had made for that key by itself, and a
-- message still costs the same number of index writes.
--
-- read_at: when the recipient's client said it showed the message (read);
-- NULL until then.  Added instantly (no copy of the table).
ALTER TABLE messages
	ADD COLUMN read_at DATETIME(3) NULL,
	ALGORITHM = INSTANT;

ALTER TABLE messages
	ADD KEY messages_conversation (sender_id, recipient_id, id),
	ALGORITHM = INPLACE, LOCK = NONE;

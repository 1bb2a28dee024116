-- Nodes (docs/ARCHITECTURE.md, "Several nodes"): every node's daemon
-- renews its row every node_heartbeat seconds through a worker.  A node
-- whose row is older than node_timeout has died without cleaning up: a
-- live node's worker removes its presence rows (its accounts then show
-- offline, and their friends are told) and then its row.  The workers
-- relay live packets only to nodes whose row is fresh.
CREATE TABLE nodes (
	name		VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin
			NOT NULL,
	heartbeat_at	DATETIME(3) NOT NULL,
	PRIMARY KEY (name),
	KEY nodes_heartbeat (heartbeat_at)
) ENGINE = InnoDB;

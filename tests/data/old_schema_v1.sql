-- A SQLite store as segment-tui schema version 0001 made it, with a few rows of
-- every kind, for the test that an upgrade keeps an older store's data.
--
-- Written by hand after the tables that migration 0001 creates; do not regenerate
-- it from a newer schema, it stands for stores that exist in the field. SQLite
-- columns hold money as whole cents and dates as Julian day numbers
-- (2460492 is 2024-06-30).

BEGIN TRANSACTION;

CREATE TABLE alembic_version (
	version_num VARCHAR(32) NOT NULL,
	CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);
CREATE TABLE apply_batch (
	id INTEGER NOT NULL,
	applied_at DATETIME NOT NULL,
	applied_by VARCHAR(100) NOT NULL,
	applied_count INTEGER NOT NULL,
	skipped_count INTEGER NOT NULL,
	PRIMARY KEY (id)
);
CREATE TABLE dunning_condition (
	code VARCHAR(20) NOT NULL,
	description VARCHAR(200) NOT NULL,
	PRIMARY KEY (code)
);
CREATE TABLE customer (
	customer_no VARCHAR(40) NOT NULL,
	name VARCHAR(200) NOT NULL,
	dunning_condition VARCHAR(20),
	segment VARCHAR(20),
	blocked BOOLEAN NOT NULL,
	segmentation_blocked BOOLEAN NOT NULL,
	payment_arrangement BOOLEAN NOT NULL,
	debt_restructuring BOOLEAN NOT NULL,
	handed_over BOOLEAN NOT NULL,
	PRIMARY KEY (customer_no),
	FOREIGN KEY(dunning_condition) REFERENCES dunning_condition (code)
);
CREATE TABLE ledger_entry (
	id INTEGER NOT NULL,
	customer_no VARCHAR(40) NOT NULL,
	entry_key VARCHAR(120) NOT NULL,
	document_no VARCHAR(40),
	posting_date INTEGER NOT NULL,
	due_date INTEGER NOT NULL,
	amount INTEGER NOT NULL,
	remaining_amount INTEGER,
	closed_at INTEGER,
	disputed BOOLEAN NOT NULL,
	on_hold BOOLEAN NOT NULL,
	PRIMARY KEY (id),
	CONSTRAINT uq_ledger_entry_key UNIQUE (customer_no, entry_key),
	FOREIGN KEY(customer_no) REFERENCES customer (customer_no)
);
CREATE TABLE reminder (
	id INTEGER NOT NULL,
	customer_no VARCHAR(40) NOT NULL,
	issued_on INTEGER NOT NULL,
	level INTEGER NOT NULL,
	PRIMARY KEY (id),
	CONSTRAINT uq_reminder UNIQUE (customer_no, issued_on, level),
	FOREIGN KEY(customer_no) REFERENCES customer (customer_no)
);
CREATE TABLE setup_version (
	id INTEGER NOT NULL,
	created_at DATETIME NOT NULL,
	created_by VARCHAR(100) NOT NULL,
	source VARCHAR(400) NOT NULL,
	toml TEXT NOT NULL,
	trial BOOLEAN NOT NULL,
	PRIMARY KEY (id)
);
CREATE TABLE proposal_run (
	id INTEGER NOT NULL,
	reference_date INTEGER NOT NULL,
	setup_version_id INTEGER,
	created_at DATETIME NOT NULL,
	created_by VARCHAR(100) NOT NULL,
	customer_count INTEGER NOT NULL,
	proposal_count INTEGER NOT NULL,
	excluded_count INTEGER NOT NULL,
	unmatched_count INTEGER NOT NULL,
	duration_ms INTEGER NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(setup_version_id) REFERENCES setup_version (id)
);
CREATE TABLE proposal (
	id INTEGER NOT NULL,
	run_id INTEGER NOT NULL,
	customer_no VARCHAR(40) NOT NULL,
	current_condition VARCHAR(20),
	segment VARCHAR(20) NOT NULL,
	proposed_condition VARCHAR(20) NOT NULL,
	reason JSON NOT NULL,
	overdue_amount INTEGER NOT NULL,
	late_ratio NUMERIC(9, 4) NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(run_id) REFERENCES proposal_run (id),
	UNIQUE (customer_no),
	FOREIGN KEY(customer_no) REFERENCES customer (customer_no)
);
CREATE TABLE segment_change (
	id INTEGER NOT NULL,
	batch_id INTEGER NOT NULL,
	run_id INTEGER NOT NULL,
	customer_no VARCHAR(40) NOT NULL,
	from_condition VARCHAR(20),
	to_condition VARCHAR(20) NOT NULL,
	from_segment VARCHAR(20),
	segment VARCHAR(20) NOT NULL,
	reason JSON NOT NULL,
	applied_at DATETIME NOT NULL,
	applied_by VARCHAR(100) NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(batch_id) REFERENCES apply_batch (id),
	FOREIGN KEY(run_id) REFERENCES proposal_run (id),
	FOREIGN KEY(customer_no) REFERENCES customer (customer_no)
);
CREATE INDEX ix_ledger_entry_customer_no ON ledger_entry (customer_no);
CREATE INDEX ix_reminder_customer_no ON reminder (customer_no);
CREATE INDEX ix_proposal_run ON proposal (run_id);
CREATE INDEX ix_segment_change_customer ON segment_change (customer_no);

INSERT INTO alembic_version VALUES ('0001');

INSERT INTO dunning_condition VALUES ('SOFT', 'Friendly reminder after 14 days');
INSERT INTO dunning_condition VALUES ('STRICT', 'Reminder after 3 days, early hand-over');

INSERT INTO setup_version VALUES (1, '2024-06-01 09:00:00.000000', 'anna', 'team.toml',
'[settings]
lookback_months = 12
late_tolerance_days = 3
exclude = ["blocked"]

[[dunning_condition]]
code = "SOFT"
description = "Friendly reminder after 14 days"

[[dunning_condition]]
code = "STRICT"
description = "Reminder after 3 days, early hand-over"

[[segment]]
code = "POOR"
description = "Pays late often"
dunning_condition = "STRICT"
conditions = ["late_ratio >= 0.5"]

[[segment]]
code = "PROMPT"
description = "Everyone else"
dunning_condition = "SOFT"
', 0);

INSERT INTO customer VALUES ('C001', 'Anna Bakker', 'SOFT', 'PROMPT', 0, 0, 0, 0, 0);
INSERT INTO customer VALUES ('C002', 'Bram de Vries', 'STRICT', 'POOR', 0, 0, 0, 0, 0);
INSERT INTO customer VALUES ('C003', 'Cas Jansen', NULL, NULL, 1, 0, 0, 0, 0);

-- C001: 123.45 posted 2024-01-10, due 2024-01-24, paid 2024-02-20 (27 days late).
INSERT INTO ledger_entry VALUES (1, 'C001', 'INV-1', 'INV-1', 2460320, 2460334, 12345,
NULL, 2460361, 0, 0);
-- C003: 500.00 posted 2024-03-01, due 2024-03-15, 250.00 of it still open.
INSERT INTO ledger_entry VALUES (2, 'C003', 'INV-2', 'INV-2', 2460371, 2460385, 50000,
25000, NULL, 1, 0);

INSERT INTO reminder VALUES (1, 'C003', 2460402, 1);

INSERT INTO proposal_run VALUES (1, 2460492, 1, '2024-06-30 08:00:00.000000', 'anna',
3, 2, 1, 0, 12);
INSERT INTO proposal VALUES (1, 1, 'C001', 'SOFT', 'POOR', 'STRICT',
'[{"condition":"late_ratio >= 0.5","metric":"late_ratio","op":">=","threshold":0.5,"value":1}]',
0, 1.0);

INSERT INTO apply_batch VALUES (1, '2024-06-30 08:05:00.000000', 'anna', 1, 0);
INSERT INTO segment_change VALUES (1, 1, 1, 'C002', 'SOFT', 'STRICT', 'PROMPT', 'POOR',
'[{"condition":"late_ratio >= 0.5","metric":"late_ratio","op":">=","threshold":0.5,"value":1}]',
'2024-06-30 08:05:00.000000', 'anna');

COMMIT;

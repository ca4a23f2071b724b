-- The workspace schema of datawheel 0.1.0 (session 1, commit f474293) on sqlite:
-- metadata.create_all's DDL, generated from that commit's src/datawheel/store/db.py.
-- Frozen: it is the schema a first-release workspace has on disk.

CREATE TABLE artifact_keys (
	digest VARCHAR(64) NOT NULL,
	wrapped_key VARCHAR(200) NOT NULL,
	key_fingerprint VARCHAR(16) NOT NULL,
	PRIMARY KEY (digest)
);

CREATE TABLE audit (
	seq INTEGER NOT NULL,
	ts VARCHAR(32) NOT NULL,
	actor VARCHAR(80) NOT NULL,
	action VARCHAR(80) NOT NULL,
	target VARCHAR(200) NOT NULL,
	details TEXT NOT NULL,
	prev_hash VARCHAR(64) NOT NULL,
	hash VARCHAR(64) NOT NULL,
	PRIMARY KEY (seq)
);

CREATE TABLE datasets (
	id VARCHAR(40) NOT NULL,
	name VARCHAR(200) NOT NULL,
	kind VARCHAR(20) NOT NULL,
	parent_id VARCHAR(40),
	artifact VARCHAR(64),
	encrypted BOOLEAN NOT NULL,
	rows INTEGER NOT NULL,
	schema JSON NOT NULL,
	stats JSON NOT NULL,
	fingerprint VARCHAR(64) NOT NULL,
	run_id VARCHAR(40),
	created_at VARCHAR(32) NOT NULL,
	PRIMARY KEY (id)
);

CREATE TABLE drift_references (
	version VARCHAR(40) NOT NULL,
	dataset_id VARCHAR(40) NOT NULL,
	reference JSON NOT NULL,
	created_at VARCHAR(32) NOT NULL,
	PRIMARY KEY (version)
);

CREATE TABLE erased_subjects (
	subject VARCHAR(80) NOT NULL,
	erased_at VARCHAR(32) NOT NULL,
	PRIMARY KEY (subject)
);

CREATE TABLE gate_decisions (
	id INTEGER NOT NULL,
	challenger VARCHAR(40) NOT NULL,
	champion VARCHAR(40),
	decision VARCHAR(20) NOT NULL,
	reasons JSON NOT NULL,
	comparison JSON NOT NULL,
	created_at VARCHAR(32) NOT NULL,
	PRIMARY KEY (id)
);

CREATE TABLE meta (
	"key" VARCHAR(64) NOT NULL,
	value TEXT NOT NULL,
	PRIMARY KEY ("key")
);

CREATE TABLE model_versions (
	id VARCHAR(40) NOT NULL,
	number INTEGER NOT NULL,
	stage VARCHAR(20) NOT NULL,
	artifact VARCHAR(64) NOT NULL,
	run_id VARCHAR(40),
	dataset_id VARCHAR(40) NOT NULL,
	eval_dataset_id VARCHAR(40),
	metrics JSON NOT NULL,
	fairness JSON NOT NULL,
	input_schema JSON NOT NULL,
	needs_retraining BOOLEAN NOT NULL,
	notes TEXT NOT NULL,
	created_at VARCHAR(32) NOT NULL,
	stage_changed_at VARCHAR(32) NOT NULL,
	PRIMARY KEY (id),
	UNIQUE (number)
);

CREATE TABLE predictions (
	id VARCHAR(40) NOT NULL,
	tenant_id VARCHAR(40),
	model_version VARCHAR(40) NOT NULL,
	subject VARCHAR(80),
	features JSON NOT NULL,
	label VARCHAR(200) NOT NULL,
	probabilities JSON NOT NULL,
	latency_ms FLOAT NOT NULL,
	shadow BOOLEAN NOT NULL,
	created_at VARCHAR(32) NOT NULL,
	request_id VARCHAR(40),
	PRIMARY KEY (id)
);

CREATE INDEX ix_predictions_created ON predictions (created_at);

CREATE INDEX ix_predictions_request ON predictions (request_id);

CREATE TABLE quota_counters (
	tenant_id VARCHAR(40) NOT NULL,
	month VARCHAR(7) NOT NULL,
	reserved INTEGER NOT NULL,
	PRIMARY KEY (tenant_id, month)
);

CREATE TABLE rate_buckets (
	tenant_id VARCHAR(40) NOT NULL,
	tokens FLOAT NOT NULL,
	updated_at FLOAT NOT NULL,
	PRIMARY KEY (tenant_id)
);

CREATE TABLE runs (
	id VARCHAR(40) NOT NULL,
	kind VARCHAR(20) NOT NULL,
	status VARCHAR(20) NOT NULL,
	params JSON NOT NULL,
	metrics JSON NOT NULL,
	history JSON NOT NULL,
	environment JSON NOT NULL,
	dataset_id VARCHAR(40),
	started_at VARCHAR(32) NOT NULL,
	finished_at VARCHAR(32),
	PRIMARY KEY (id)
);

CREATE TABLE stage_events (
	id INTEGER NOT NULL,
	version VARCHAR(40) NOT NULL,
	from_stage VARCHAR(20),
	to_stage VARCHAR(20) NOT NULL,
	reason TEXT NOT NULL,
	at VARCHAR(32) NOT NULL,
	PRIMARY KEY (id)
);

CREATE TABLE tenants (
	id VARCHAR(40) NOT NULL,
	name VARCHAR(200) NOT NULL,
	"plan" VARCHAR(40) NOT NULL,
	created_at VARCHAR(32) NOT NULL,
	active BOOLEAN NOT NULL,
	PRIMARY KEY (id),
	UNIQUE (name)
);

CREATE TABLE usage (
	tenant_id VARCHAR(40) NOT NULL,
	endpoint VARCHAR(40) NOT NULL,
	day VARCHAR(10) NOT NULL,
	requests INTEGER NOT NULL,
	rows INTEGER NOT NULL,
	PRIMARY KEY (tenant_id, endpoint, day)
);

CREATE TABLE api_keys (
	id VARCHAR(40) NOT NULL,
	tenant_id VARCHAR(40) NOT NULL,
	key_hash VARCHAR(64) NOT NULL,
	role VARCHAR(20) NOT NULL,
	created_at VARCHAR(32) NOT NULL,
	revoked_at VARCHAR(32),
	PRIMARY KEY (id),
	FOREIGN KEY(tenant_id) REFERENCES tenants (id)
);

CREATE TABLE feedback (
	id VARCHAR(40) NOT NULL,
	prediction_id VARCHAR(40) NOT NULL,
	tenant_id VARCHAR(40),
	subject VARCHAR(80),
	label VARCHAR(200),
	issue VARCHAR(80),
	comment TEXT,
	rating INTEGER,
	created_at VARCHAR(32) NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(prediction_id) REFERENCES predictions (id)
);

CREATE INDEX ix_feedback_prediction ON feedback (prediction_id);

CREATE TABLE lineage (
	dataset_id VARCHAR(40) NOT NULL,
	subject VARCHAR(80) NOT NULL,
	PRIMARY KEY (dataset_id, subject),
	FOREIGN KEY(dataset_id) REFERENCES datasets (id)
);

CREATE INDEX ix_lineage_subject ON lineage (subject);

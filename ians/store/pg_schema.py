"""The PostgreSQL schema, one migration per version (table `schema_version`).

The same tables and columns as the SQLite schema at its latest version, so that one set
of row conversions (ians/store/rows.py) serves both: times are BIGINT microseconds since
the Unix epoch, UTC; JSON is kept as text. Beside them: `seq` columns for the order rows
were added in (SQLite's rowid), and the claims that let several nodes share the timers
(`claimed_until` of a notice being attempted). A migration is appended, never edited.
"""

MIGRATIONS: list[str] = [
    # version 1: as SQLite's schema version 7, with the claims of several nodes
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE tokens (
        poc TEXT PRIMARY KEY,
        token_hash TEXT NOT NULL UNIQUE,
        issued_at BIGINT NOT NULL
    );
    CREATE TABLE messages (
        id TEXT PRIMARY KEY,
        seq BIGSERIAL NOT NULL,
        type TEXT NOT NULL,
        mode TEXT NOT NULL,
        sender TEXT,
        recipients TEXT NOT NULL,
        sent_at BIGINT NOT NULL,
        refers_to TEXT,
        content TEXT NOT NULL,
        exercise_id TEXT,
        policy TEXT NOT NULL,
        inject TEXT,
        simulated INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX messages_exercise ON messages (exercise_id) WHERE exercise_id IS NOT NULL;
    CREATE INDEX messages_newest ON messages (sent_at, id);
    CREATE TABLE chases (
        id BIGSERIAL PRIMARY KEY,
        message_id TEXT NOT NULL REFERENCES messages (id),
        country TEXT NOT NULL,
        pocs TEXT NOT NULL,
        sent_at BIGINT NOT NULL,
        status TEXT NOT NULL,
        steps_done INTEGER NOT NULL,
        reached INTEGER NOT NULL,
        reminders INTEGER NOT NULL,
        acknowledged_at BIGINT,
        acknowledged_by TEXT,
        gave_up_at BIGINT,
        next_due_at BIGINT,
        UNIQUE (message_id, country)
    );
    CREATE INDEX chases_due ON chases (next_due_at) WHERE next_due_at IS NOT NULL;
    CREATE TABLE deliveries (
        message_id TEXT NOT NULL REFERENCES messages (id),
        poc TEXT NOT NULL,
        country TEXT NOT NULL,
        delivered_at BIGINT NOT NULL,
        acknowledged_at BIGINT,
        PRIMARY KEY (message_id, poc)
    );
    CREATE INDEX deliveries_inbox ON deliveries (poc, delivered_at);
    CREATE TABLE events (
        id BIGSERIAL PRIMARY KEY,
        at BIGINT NOT NULL,
        kind TEXT NOT NULL,
        message_id TEXT NOT NULL,
        country TEXT,
        poc TEXT,
        due_at BIGINT,
        detail TEXT
    );
    CREATE INDEX events_message ON events (message_id);
    CREATE TABLE exercises (
        id TEXT PRIMARY KEY,
        seq BIGSERIAL NOT NULL,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        clock TEXT NOT NULL,
        speed DOUBLE PRECISION NOT NULL,
        state TEXT NOT NULL,
        started_at BIGINT NOT NULL,
        wall_started_at BIGINT NOT NULL,
        ended_at BIGINT,
        seed BIGINT,
        scenario TEXT NOT NULL,
        simulate TEXT NOT NULL
    );
    CREATE INDEX exercises_state ON exercises (state);
    CREATE INDEX exercises_newest ON exercises (wall_started_at, id);
    CREATE TABLE invitations (
        consultation_id TEXT NOT NULL REFERENCES exercises (id),
        poc TEXT NOT NULL,
        country TEXT NOT NULL,
        invited_at BIGINT NOT NULL,
        PRIMARY KEY (consultation_id, poc)
    );
    CREATE INDEX invitations_poc ON invitations (poc);
    CREATE TABLE responses (
        consultation_id TEXT NOT NULL REFERENCES exercises (id),
        poc TEXT NOT NULL,
        submitted_at BIGINT NOT NULL,
        answers TEXT NOT NULL,
        versions INTEGER NOT NULL,
        PRIMARY KEY (consultation_id, poc)
    );
    CREATE TABLE consultation_reminders (
        consultation_id TEXT NOT NULL REFERENCES exercises (id),
        number INTEGER NOT NULL,
        sent_at BIGINT NOT NULL,
        reminded INTEGER NOT NULL,
        PRIMARY KEY (consultation_id, number)
    );
    CREATE TABLE poc_channels (
        poc TEXT NOT NULL,
        channel TEXT NOT NULL,
        PRIMARY KEY (poc, channel)
    );
    CREATE TABLE outbox (
        id BIGSERIAL PRIMARY KEY,
        kind TEXT NOT NULL,
        message_id TEXT NOT NULL,
        poc TEXT NOT NULL,
        country TEXT NOT NULL,
        channel TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at BIGINT,
        state TEXT NOT NULL DEFAULT 'pending',
        last_answer TEXT,
        claimed_until BIGINT
    );
    CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE next_attempt_at IS NOT NULL;
    CREATE INDEX outbox_message ON outbox (message_id, poc);
    """,
    # version 2: as SQLite's version 8, a PoC confirms its contact details are up to date
    """
    CREATE TABLE detail_confirmations (
        poc_id TEXT NOT NULL,
        confirmed_at BIGINT NOT NULL,
        PRIMARY KEY (poc_id, confirmed_at)
    );
    """,
    # version 3: as SQLite's version 9, sessions of the web pages (cookie hashes only)
    """
    CREATE TABLE web_sessions (
        key_hash TEXT PRIMARY KEY,
        poc TEXT,
        csrf TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL
    );
    CREATE INDEX web_sessions_expiry ON web_sessions (expires_at);
    """,
    # version 4: as SQLite's version 10, webhook secrets and channels a peer switched off
    """
    CREATE TABLE webhook_secrets (
        poc TEXT PRIMARY KEY,
        secret TEXT NOT NULL,
        issued_at BIGINT NOT NULL
    );
    CREATE TABLE disabled_channels (
        poc TEXT NOT NULL,
        channel TEXT NOT NULL,
        disabled_at BIGINT NOT NULL,
        answer TEXT NOT NULL,
        PRIMARY KEY (poc, channel)
    );
    """,
    # version 5: as SQLite's version 11, an exercise's improvement plan as edited
    """
    CREATE TABLE exercise_findings (
        exercise_id TEXT PRIMARY KEY REFERENCES exercises (id),
        findings TEXT NOT NULL,
        edited_at BIGINT NOT NULL
    );
    """,
    # version 6: which node runs each running exercise or consultation (its injects,
    # simulated PoCs, reminders, closing and chases), and until when
    """
    CREATE TABLE runners (
        exercise_id TEXT PRIMARY KEY REFERENCES exercises (id),
        node TEXT NOT NULL,
        until BIGINT NOT NULL
    );
    """,
]

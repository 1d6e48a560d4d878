"""The SQLite schema, one migration per version (`PRAGMA user_version`).

Times are integer microseconds since the Unix epoch, UTC: compact, exact and
ordered. A migration is appended, never edited once released.
"""

MIGRATIONS: list[str] = [
    # version 1
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE tokens (
        poc TEXT PRIMARY KEY,
        token_hash TEXT NOT NULL UNIQUE,
        issued_at INTEGER NOT NULL
    );
    CREATE TABLE messages (
        id TEXT PRIMARY KEY,
        type TEXT NOT NULL,
        mode TEXT NOT NULL,
        sender TEXT,
        recipients TEXT NOT NULL,
        sent_at INTEGER NOT NULL,
        refers_to TEXT,
        content TEXT NOT NULL,
        exercise_id TEXT,
        policy TEXT NOT NULL
    );
    CREATE INDEX messages_exercise ON messages (exercise_id) WHERE exercise_id IS NOT NULL;
    CREATE TABLE chases (
        id INTEGER PRIMARY KEY,
        message_id TEXT NOT NULL REFERENCES messages (id),
        country TEXT NOT NULL,
        pocs TEXT NOT NULL,
        sent_at INTEGER NOT NULL,
        status TEXT NOT NULL,
        steps_done INTEGER NOT NULL,
        reached INTEGER NOT NULL,
        reminders INTEGER NOT NULL,
        acknowledged_at INTEGER,
        acknowledged_by TEXT,
        gave_up_at INTEGER,
        next_due_at INTEGER,
        UNIQUE (message_id, country)
    );
    CREATE INDEX chases_due ON chases (next_due_at) WHERE next_due_at IS NOT NULL;
    CREATE TABLE deliveries (
        message_id TEXT NOT NULL REFERENCES messages (id),
        poc TEXT NOT NULL,
        country TEXT NOT NULL,
        delivered_at INTEGER NOT NULL,
        acknowledged_at INTEGER,
        PRIMARY KEY (message_id, poc)
    ) WITHOUT ROWID;
    CREATE INDEX deliveries_inbox ON deliveries (poc, delivered_at);
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        kind TEXT NOT NULL,
        message_id TEXT NOT NULL,
        country TEXT,
        poc TEXT,
        due_at INTEGER,
        detail TEXT
    );
    CREATE INDEX events_message ON events (message_id);
    """,
    # version 2: exercises, and which inject a message was
    """
    CREATE TABLE exercises (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        clock TEXT NOT NULL,
        speed REAL NOT NULL,
        state TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        wall_started_at INTEGER NOT NULL,
        ended_at INTEGER,
        seed INTEGER,
        scenario TEXT NOT NULL,
        simulate TEXT NOT NULL
    );
    CREATE INDEX exercises_state ON exercises (state);
    ALTER TABLE messages ADD COLUMN inject TEXT;
    """,
    # version 3: consultations (their record is an exercise of kind consultation)
    """
    CREATE TABLE invitations (
        consultation_id TEXT NOT NULL REFERENCES exercises (id),
        poc TEXT NOT NULL,
        country TEXT NOT NULL,
        invited_at INTEGER NOT NULL,
        PRIMARY KEY (consultation_id, poc)
    ) WITHOUT ROWID;
    CREATE INDEX invitations_poc ON invitations (poc);
    CREATE TABLE responses (
        consultation_id TEXT NOT NULL REFERENCES exercises (id),
        poc TEXT NOT NULL,
        submitted_at INTEGER NOT NULL,
        answers TEXT NOT NULL,
        versions INTEGER NOT NULL,
        PRIMARY KEY (consultation_id, poc)
    ) WITHOUT ROWID;
    CREATE TABLE consultation_reminders (
        consultation_id TEXT NOT NULL REFERENCES exercises (id),
        number INTEGER NOT NULL,
        sent_at INTEGER NOT NULL,
        reminded INTEGER NOT NULL,
        PRIMARY KEY (consultation_id, number)
    ) WITHOUT ROWID;
    """,
    # version 4: a virtual run's messages are marked simulated and reach nobody's inbox
    # (runs stored before kept a delivery row per real PoC: they are dropped)
    """
    ALTER TABLE messages ADD COLUMN simulated INTEGER NOT NULL DEFAULT 0;
    UPDATE messages SET simulated = 1
        WHERE exercise_id IN (SELECT id FROM exercises WHERE clock = 'virtual');
    DELETE FROM deliveries
        WHERE message_id IN (SELECT id FROM messages WHERE simulated = 1);
    """,
    # version 5: the `delivered` event of every inbox entry, in the entry's transaction
    # since this version; recreated once here where an older IANS lost it (kill -9)
    """
    CREATE INDEX events_delivered ON events (message_id, poc) WHERE kind = 'delivered';
    INSERT INTO events (at, kind, message_id, country, poc, detail)
    SELECT d.delivered_at, 'delivered', d.message_id, d.country, d.poc,
           '{"channel": "inbox", "notice": "message", "recovered": true}'
    FROM deliveries d
    WHERE d.message_id NOT IN (
        SELECT m.id FROM messages m JOIN exercises x ON x.id = m.exercise_id
        WHERE x.clock = 'virtual')
      AND NOT EXISTS (
        SELECT 1 FROM events e
        WHERE e.kind = 'delivered' AND e.message_id = d.message_id AND e.poc = d.poc
          AND json_extract(e.detail, '$.channel') = 'inbox')
    ORDER BY d.delivered_at;
    INSERT INTO events (at, kind, message_id, country, poc, detail)
    SELECT i.invited_at, 'delivered', i.consultation_id, i.country, i.poc,
           '{"channel": "inbox", "notice": "invitation", "recovered": true}'
    FROM invitations i JOIN exercises x ON x.id = i.consultation_id
    WHERE x.clock != 'virtual'
      AND NOT EXISTS (
        SELECT 1 FROM events e
        WHERE e.kind = 'delivered' AND e.message_id = i.consultation_id AND e.poc = i.poc
          AND json_extract(e.detail, '$.channel') = 'inbox')
    ORDER BY i.invited_at;
    DROP INDEX events_delivered;
    """,
    # version 6: the lists of messages and exercises, newest first, paged by key
    """
    CREATE INDEX IF NOT EXISTS messages_newest ON messages (sent_at, id);
    CREATE INDEX IF NOT EXISTS exercises_newest ON exercises (wall_started_at, id);
    """,
    # version 7: external channels (e-mail) and the outbox of their notices (IF NOT EXISTS:
    # a database set back a version migrates again)
    """
    CREATE TABLE IF NOT EXISTS poc_channels (
        poc TEXT NOT NULL,
        channel TEXT NOT NULL,
        PRIMARY KEY (poc, channel)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS outbox (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        message_id TEXT NOT NULL,
        poc TEXT NOT NULL,
        country TEXT NOT NULL,
        channel TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER,
        state TEXT NOT NULL DEFAULT 'pending',
        last_answer TEXT
    );
    CREATE INDEX IF NOT EXISTS outbox_due ON outbox (next_attempt_at)
        WHERE next_attempt_at IS NOT NULL;
    CREATE INDEX IF NOT EXISTS outbox_message ON outbox (message_id, poc);
    """,
    # version 8: a PoC confirms that its contact details in the registry are up to date
    """
    CREATE TABLE IF NOT EXISTS detail_confirmations (
        poc_id TEXT NOT NULL,
        confirmed_at INTEGER NOT NULL,
        PRIMARY KEY (poc_id, confirmed_at)
    ) WITHOUT ROWID;
    """,
    # version 9: sessions of the web pages (the hash of each cookie, never the cookie)
    """
    CREATE TABLE IF NOT EXISTS web_sessions (
        key_hash TEXT PRIMARY KEY,
        poc TEXT,
        csrf TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS web_sessions_expiry ON web_sessions (expires_at);
    """,
    # version 10: webhooks: each PoC's signing secret (kept as is: it signs), and the
    # channels a peer switched off (HTTP 410), which no notice is queued for any more
    """
    CREATE TABLE IF NOT EXISTS webhook_secrets (
        poc TEXT PRIMARY KEY,
        secret TEXT NOT NULL,
        issued_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS disabled_channels (
        poc TEXT NOT NULL,
        channel TEXT NOT NULL,
        disabled_at INTEGER NOT NULL,
        answer TEXT NOT NULL,
        PRIMARY KEY (poc, channel)
    ) WITHOUT ROWID;
    """,
    # version 11: the improvement plan of an exercise as the secretariat edited it
    """
    CREATE TABLE IF NOT EXISTS exercise_findings (
        exercise_id TEXT PRIMARY KEY REFERENCES exercises (id),
        findings TEXT NOT NULL,
        edited_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    """,
    # version 12: no index of the chases' next steps. Only the start reads them (to arm
    # the timers), once, and a scan of the chases does that; every step and every
    # acknowledgement paid for the index instead (~8% of the writer's time an ack)
    """
    DROP INDEX IF EXISTS chases_due;
    """,
]

-- Tasks and their append-only event history.
-- Portable SQL: the same statements (with BIGSERIAL for the event id) serve Postgres.
-- Timestamps are Unix epoch milliseconds (BIGINT): portable, sortable, no time-zone surprises.

CREATE TABLE tasks (
    id              TEXT    PRIMARY KEY,          -- UUIDv7
    prompt          TEXT    NOT NULL,
    repo            TEXT    NOT NULL,             -- owner/name
    base_branch     TEXT,
    agent           TEXT,
    max_iterations  INTEGER,
    status          TEXT    NOT NULL,
    branch          TEXT,
    pr_url          TEXT,
    pr_number       BIGINT,
    iterations      INTEGER NOT NULL DEFAULT 0,
    error           TEXT,
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL,
    -- Highest seq handed out in task_events for this task. Bumping it in the same transaction
    -- as the insert makes seq gap-free and, on Postgres, serializes writers of one task.
    last_seq        BIGINT  NOT NULL DEFAULT 0
);

-- Newest-first listing, overall and per filter, with (created_at, id) keyset pagination.
CREATE INDEX tasks_by_created ON tasks (created_at DESC, id DESC);
CREATE INDEX tasks_by_status ON tasks (status, created_at DESC, id DESC);
CREATE INDEX tasks_by_repo ON tasks (repo, created_at DESC, id DESC);

CREATE TABLE task_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT, -- global order; Postgres: BIGSERIAL
    task_id     TEXT    NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    seq         BIGINT  NOT NULL,                   -- 1, 2, 3, ... per task, no gaps
    type        TEXT    NOT NULL,                   -- TaskEvent's tag, for filtering without parsing
    payload     TEXT    NOT NULL,                   -- the TaskEvent as JSON
    created_at  BIGINT  NOT NULL,
    UNIQUE (task_id, seq)
);

-- The all-tasks stream replays creations and status changes by global id.
CREATE INDEX task_events_changes ON task_events (type, id);

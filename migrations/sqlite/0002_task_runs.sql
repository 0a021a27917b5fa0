-- What the worker needs to resume (or cleanly end) a task after a restart. One row per task
-- that has left the queue; written by the task's actor only.
CREATE TABLE task_runs (
    task_id       TEXT    PRIMARY KEY REFERENCES tasks (id) ON DELETE CASCADE,
    -- Where the work stands: preparing | prepared | turn_running | turn_done | pushed | finished
    phase         TEXT    NOT NULL,
    container_id  TEXT,
    agent         TEXT    NOT NULL,
    -- The agent's conversation id (Amp thread, Claude session, Codex thread) for follow-ups.
    session_id    TEXT,
    turns         INTEGER NOT NULL DEFAULT 0,
    base_branch   TEXT,
    base_sha      TEXT,
    -- Last SHA pushed to the task's branch: a push is never repeated for the same turn.
    pushed_sha    TEXT,
    updated_at    BIGINT  NOT NULL
);

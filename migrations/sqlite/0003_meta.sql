-- Facts about this installation. `instance`: a random id generated once per database; the
-- containers this installation creates carry it as a label, so start-up cleanup never touches
-- containers of another orchestrator sharing the Docker host.
CREATE TABLE meta (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);

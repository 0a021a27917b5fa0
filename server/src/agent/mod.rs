//! Agent CLI adapters (Amp, Claude Code, Codex, any command): argv and stream parsing.

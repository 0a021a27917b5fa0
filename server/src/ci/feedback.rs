//! The feedback builder (see the module map in `ci`).

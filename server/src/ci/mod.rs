//! GitHub CI: watching checks on a pushed commit and turning failures into feedback for the agent.
//!
//! - [`verdict`]: what one snapshot of a commit's checks says (pending, no checks, completed).
//! - [`watch`]: polling a pushed commit until its CI is conclusive (settle window, grace, timeout).
//! - [`pr`]: the pull request's title and body.
//! - [`collect`]: what the feedback needs about each failed check (annotations, steps, logs).
//! - [`feedback`]: failed checks into a compact, injection-safe message for the agent.

pub mod collect;
pub mod feedback;
pub mod pr;
pub mod verdict;
pub mod watch;

//! GitHub CI: watching checks on a pushed commit and turning failures into feedback for the agent.

pub mod feedback;

//! The exam at the seat (issue 14): the candidate's paper arrives as a
//! signed package, is served to the seat page from the agent's own disk, and
//! every answer is durable here before the page hears "saved" and travels to
//! the server through the enrolment's outbox.
//!
//! - [`store`]: the exam store (SQLite, WAL, `synchronous = FULL`, 0600).
//! - [`package`]: the `.part` download, its checks and the unpacking.

pub mod package;
pub mod store;

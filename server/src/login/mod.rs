//! Identity verification at login, the server's side of both of the seeds'
//! modes: the rules a candidate's state follows ([`rules`]), the score
//! re-check ([`score`]), the checks of a card read at the console
//! ([`card`]), the random choice of a free seat ([`assign`]) and the
//! re-check of stored evidence against the seat's key ([`evidence`]).
//!
//! Pure computation: the store applies these rules inside its transactions
//! and the API (`api/login.rs`, `api/verify.rs`) answers with them.

pub mod assign;
pub mod card;
pub mod evidence;
pub mod rules;
pub mod score;

pub use rules::Conflict;

//! cairn-guards: the policy guard.
pub mod command;

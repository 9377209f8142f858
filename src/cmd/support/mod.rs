//! What the command handlers share: argument parsing and replies
//! ([`util`]), the SCAN family's cursor walk ([`scan`]), the random-pick
//! counts ([`random`]), and the check that the documented command list
//! matches the table (`catalog`, tests only).

#[cfg(test)]
pub(crate) mod catalog;
pub(crate) mod random;
pub(crate) mod scan;
pub(crate) mod util;

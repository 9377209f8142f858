//! What the command handlers share: argument parsing and replies
//! ([`util`]), the SCAN family's cursor walk ([`scan`]), the random-pick
//! counts ([`random`]), the thread long scripts run on (`script_thread`), and the check that the documented command list
//! matches the table (`catalog`, tests only).

#[cfg(test)]
pub(crate) mod catalog;
pub(crate) mod random;
pub(crate) mod scan;
#[cfg(feature = "scripting")]
pub(crate) mod script_thread;
pub(crate) mod util;

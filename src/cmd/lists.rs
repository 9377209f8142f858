//! Lists commands.

use super::CommandSpec;

pub(crate) const COMMANDS: &[CommandSpec] = &[];

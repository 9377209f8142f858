//! The configuration's write operations: CONFIG SET, the ACL commands'
//! user edits and the harness's requirepass all change it here, so each
//! change brings what follows from it (encoding thresholds reach every db, a
//! deleted user's clients are disconnected, the derived `default` user
//! becomes a real one when it is edited).

use super::State;
use crate::engine::acl::User;
use crate::engine::config::{Config, Param};

impl State {
    /// The configuration (read only; see the operations below for writes).
    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    /// CONFIG SET: stores values already checked with
    /// [`Config::normalize`], all or none having failed before this, and
    /// applies the encoding thresholds to every db.
    pub(crate) fn set_config(&mut self, values: impl IntoIterator<Item = (&'static Param, String)>) {
        for (p, v) in values {
            self.config.store(p, v);
        }
        self.sync_encoding_limits();
    }

    /// `requirepass` from the harness (`FakeRedis::set_password`, HARNESS):
    /// the one write path CONFIG SET requirepass also takes.
    pub(crate) fn set_requirepass(&mut self, pw: &str) {
        self.config.set_requirepass(pw);
    }

    /// The user ACL GETUSER / SETUSER start from: the stored one, or the
    /// `default` user derived from `requirepass` while nobody has edited it.
    pub(crate) fn acl_user(&self, name: &str) -> Option<User> {
        self.config.acl.get(&crate::engine::acl::cfg_pass(&self.config), name)
    }

    /// ACL SETUSER's result: stores `user` under `name` (editing `default`
    /// makes it a stored user, no longer derived from `requirepass`).
    pub(crate) fn put_acl_user(&mut self, name: String, user: User) {
        if name == "default" {
            self.config.acl.default_derived = false;
        }
        self.config.acl.users.insert(name, user);
    }

    /// ACL DELUSER of one user: removes it and disconnects the clients
    /// authenticated as it, as Redis does. Returns whether it existed.
    pub(crate) fn delete_acl_user(&mut self, name: &str) -> bool {
        if self.config.acl.users.remove(name).is_none() {
            return false;
        }
        self.kill_clients(|c| c.user() == name.as_bytes());
        true
    }
}

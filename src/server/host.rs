//! The fake server as a connection host (`crate::host`): the adapter from
//! the shared core to the client table in `State`.

use std::time::Instant;

use crate::engine::state::Shared;
use crate::host::{ClientSnapshot, ConnectionHost, Sockets};

impl ConnectionHost for Shared {
    fn sockets(&self) -> &Sockets {
        &self.sockets
    }

    /// Everything the server keeps per client goes with the connection: its
    /// table entry, blocked-client queues, WATCHed keys and subscriptions.
    fn forget(&self, id: u64) {
        self.lock().forget_client(id);
    }

    fn clients(&self) -> Vec<ClientSnapshot> {
        let st = self.lock();
        let now = Instant::now();
        st.clients()
            .map(|c| ClientSnapshot {
                id: c.id,
                peer: c.peer.clone(),
                name: String::from_utf8_lossy(&c.name).into_owned(),
                lib_name: String::from_utf8_lossy(&c.lib_name).into_owned(),
                lib_ver: String::from_utf8_lossy(&c.lib_ver).into_owned(),
                db: c.db(),
                resp: c.resp(),
                age: now.duration_since(c.created),
                idle: now.duration_since(c.last_interaction),
                last_command: c.last_cmd.to_string(),
            })
            .collect()
    }

    fn kill_all(&self, except: Option<u64>) -> usize {
        super::faults::kill_all(self, except)
    }
}

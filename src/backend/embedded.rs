//! The embedded backend: a [`FakeRedis`] that can be stopped and started
//! again on its address, as the process and container backends can.

use std::net::SocketAddr;

use crate::{Builder, FakeRedis, Reply};

/// Why the fake did not start.
pub(super) type StartFailure = Box<dyn std::error::Error + Send + Sync>;

/// The fake and how to build it again.
pub(super) struct Embedded {
    /// `None` between [`Embedded::stop`] and [`Embedded::restart`].
    pub fake: Option<FakeRedis>,
    /// Its address, kept while it is down: it comes back there.
    pub addr: SocketAddr,
    /// How it was built (its address and TLS PKI filled in after the first start).
    builder: Builder,
    users: Vec<(String, Vec<String>)>,
}

impl Embedded {
    /// Starts the fake `builder` describes, with `users` added by ACL SETUSER.
    pub(super) fn start(builder: Builder, users: Vec<(String, Vec<String>)>) -> Result<Embedded, StartFailure> {
        let fake = start(builder.clone(), &users)?;
        let addr = fake.addr();
        // The next start binds the same port and, with TLS, serves from the
        // same PKI, so clients that trusted this one trust the next.
        #[cfg_attr(not(feature = "tls"), allow(unused_mut))]
        let mut builder = builder.bind(addr);
        #[cfg(feature = "tls")]
        if fake.is_tls() {
            builder = builder.with_pki(fake.tls_pki_shared());
        }
        Ok(Embedded { fake: Some(fake), addr, builder, users })
    }

    /// Stops the fake: every connection closes, new ones are refused, its data is gone.
    pub(super) fn stop(&mut self) {
        drop(self.fake.take());
    }

    /// Starts a fresh, empty fake on the same address (stopping the running
    /// one first), with `password` as `requirepass` (None: none).
    pub(super) fn restart(&mut self, password: Option<&str>) -> Result<(), StartFailure> {
        self.stop();
        let mut b = self.builder.clone();
        b = b.clear_requirepass();
        if let Some(pw) = password {
            b = b.requirepass(pw);
        }
        self.fake = Some(start(b, &self.users)?);
        Ok(())
    }
}

fn start(builder: Builder, users: &[(String, Vec<String>)]) -> Result<FakeRedis, StartFailure> {
    let fake = builder.try_start()?;
    for (name, rules) in users {
        let mut args = vec!["ACL".to_string(), "SETUSER".into(), name.clone()];
        args.extend(rules.iter().cloned());
        if let Reply::Error(e) = fake.run(&args) {
            return Err(format!("ACL SETUSER {name}: {}", String::from_utf8_lossy(&e)).into());
        }
    }
    Ok(fake)
}
